#!/usr/bin/env bash
# Three MoeRuntime ranks on this machine with mutual TLS and Redis behind a password (docs/security.md).
# usage: MOE=path/to/moe.dll SILO=path/to/moe-silo.dll bash deploy/tls/three-ranks.sh [CERT_DIR]
set -euo pipefail
dir=${1:-./moe-certs}
moe=${MOE:?set MOE to moe.dll}
silo=${SILO:?set SILO to moe-silo.dll}
umask 077
dotnet "$moe" cert --out "$dir" --silos 3 --operator operator --client client
# Redis with a password, the password in a file only the user reads.
[ -f "$dir/redis.password" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$dir/redis.password"
redis_password=$(cat "$dir/redis.password")
redis-server --port 6390 --bind 127.0.0.1 --save "" --appendonly no --requirepass "$redis_password" --daemonize yes
redis="127.0.0.1:6390,password=$redis_password"
pids=()
for r in 0 1 2; do
  MOE_Silo__Redis="$redis" dotnet "$silo" --clustering redis --rank $r \
    --silo-port $((11111 + r)) --gateway-port $((30000 + r)) --http-port $((8080 + r)) \
    --tls true --cert "$dir/silo-$r.pfx" --ca "$dir/ca.crt" --internal-key "$dir/internal.key" &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null; redis-cli -p 6390 -a "$redis_password" shutdown nosave >/dev/null 2>&1 || true' EXIT
for r in 0 1 2; do
  for _ in $(seq 1 120); do  # at most two minutes per rank
    curl -fs "http://127.0.0.1:$((8080 + r))/healthz" | grep -q '"members":3' && break
    sleep 1
  done
  curl -fs "http://127.0.0.1:$((8080 + r))/healthz" | grep -q '"members":3' || { echo "rank $r did not see three members in 120 s" >&2; exit 1; }
done
# A client certificate generates; an operator certificate writes a TierSet under its own identity.
dotnet "$moe" generate --prompt "The experts" --max-tokens 8 --gateway 30000 --cert "$dir/client.pfx" --ca "$dir/ca.crt"
dotnet "$moe" tiers set --rank 1 --expert default/0/3 --tier hot --reason "TLS demo" --gateway 30000 --cert "$dir/operator.pfx" --ca "$dir/ca.crt"
dotnet "$moe" tiers --gateway 30000 --cert "$dir/operator.pfx" --ca "$dir/ca.crt"
echo "three ranks with mutual TLS are serving; Ctrl+C stops them"
wait
