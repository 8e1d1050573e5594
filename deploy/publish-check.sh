#!/usr/bin/env bash
# Checks the publish layout and the .NET tool end to end, on loopback only, every wait bounded:
#  1. deploy/publish.sh into a scratch folder (or $MOE_PUBLISH_DIR if it already holds a publish: MOE_SKIP_PUBLISH=1);
#  2. starts moe-silo FROM THAT FOLDER (no dotnet on PATH needed: self-contained), the built-in model written on first
#     start into a scratch MOE_MODEL_DIR, and waits for /healthz 200 and /livez 200; stops it with SIGTERM (exit 0);
#  3. runs that folder's moe (model init into scratch: loads TorchSharp, so the GLIBCXX edit is checked too);
#  4. packs src/MoeRuntime.Cli as a .NET tool into a scratch feed, installs it with
#     `dotnet tool install --tool-path ... --add-source ...` and runs the installed moe the same way.
# Prints one "check: ... ok" line per step and "publish-check: N passed, N failed". Takes minutes (two self-contained
# publishes and a pack of ~0.5 GB of natives): not part of tests/run; results in deploy/README.md.
set -uo pipefail
cd "$(dirname "$0")/.."
scratch="$(mktemp -d /tmp/moe-publish-check.XXXXXX)"
out="${MOE_PUBLISH_DIR:-$scratch/app}"
passed=0; failed=0; silo_pid=""
cleanup() { [ -n "$silo_pid" ] && kill "$silo_pid" 2>/dev/null; rm -rf "$scratch"; }
trap cleanup EXIT
ok() { echo "check: $1 ok"; passed=$((passed + 1)); }
bad() { echo "check: $1 FAILED: $2" >&2; failed=$((failed + 1)); }

# 1. publish
start=$SECONDS
if [ "${MOE_SKIP_PUBLISH:-0}" = "1" ] && [ -x "$out/moe-silo" ]; then ok "publish (reused $out)"
elif bash deploy/publish.sh "$out" > "$scratch/publish.log" 2>&1; then ok "publish to one folder in $((SECONDS - start)) s ($(du -sh "$out" | cut -f1))"
else bad publish "$(tail -20 "$scratch/publish.log")"; echo "publish-check: $passed passed, $failed failed"; exit 1; fi
# TorchSharp's bridge with the GLIBCXX edit; steps 2 and 3 load it on this host (Debian 12), which is the real proof.
[ -f "$out/libLibTorchSharp.so" ] && ok "libLibTorchSharp.so published" || bad "libLibTorchSharp.so" "missing from $out"

# 2. the published silo starts and answers
port=$((20000 + RANDOM % 20000))
env -i HOME="$scratch" PATH=/usr/bin:/bin MOE_MODEL_DIR="$scratch/model" \
  "$out/moe-silo" --rank 0 --silo-port $((port + 1)) --gateway-port $((port + 2)) --primary-port $((port + 1)) \
  --http-port "$port" > "$scratch/silo.out" 2> "$scratch/silo.err" &
silo_pid=$!
healthy=""
for _ in $(seq 1 120); do
  if ! kill -0 "$silo_pid" 2>/dev/null; then break; fi
  if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/healthz")" = "200" ]; then healthy=1; break; fi
  sleep 1
done
if [ -n "$healthy" ]; then ok "published moe-silo answers /healthz 200 ($(curl -s --max-time 2 "http://127.0.0.1:$port/healthz"))"
else bad "published moe-silo /healthz" "no 200 within 120 s; stderr: $(tail -5 "$scratch/silo.err")"; fi
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/livez")"
[ "$code" = "200" ] && ok "published moe-silo answers /livez 200" || bad "published moe-silo /livez" "status $code"
rss_kb="$(awk '/VmRSS/ {print $2}' "/proc/$silo_pid/status" 2>/dev/null)"
[ -n "$rss_kb" ] && echo "measure: idle published silo with the built-in model: RSS $((rss_kb / 1024)) MiB"
kill -TERM "$silo_pid" 2>/dev/null
for _ in $(seq 1 60); do kill -0 "$silo_pid" 2>/dev/null || break; sleep 1; done
if kill -0 "$silo_pid" 2>/dev/null; then bad "published moe-silo stops on SIGTERM" "still running after 60 s"; kill -KILL "$silo_pid"
else wait "$silo_pid"; rc=$?; [ "$rc" = "0" ] && ok "published moe-silo stops on SIGTERM with exit 0" || bad "published moe-silo SIGTERM" "exit $rc"; fi
silo_pid=""

# 3. the published moe
if env -i HOME="$scratch" PATH=/usr/bin:/bin "$out/moe" model init --output "$scratch/init" > "$scratch/moe.log" 2>&1 \
   && [ -f "$scratch/init/config.json" ]; then ok "published moe model init"
else bad "published moe model init" "$(tail -5 "$scratch/moe.log")"; fi

# 4. moe as a .NET tool from a local feed
if dotnet pack src/MoeRuntime.Cli -c Release -o "$scratch/feed" -nologo -v:q > "$scratch/pack.log" 2>&1 \
   && dotnet tool install MoeRuntime.Cli --tool-path "$scratch/tools" --add-source "$scratch/feed" > "$scratch/install.log" 2>&1; then
  ok "dotnet pack + dotnet tool install --tool-path ($(du -sh "$scratch/feed" | cut -f1) package)"
  if HOME="$scratch" "$scratch/tools/moe" model init --output "$scratch/tool-init" > "$scratch/tool.log" 2>&1 \
     && [ -f "$scratch/tool-init/config.json" ]; then ok "installed tool: moe model init"
  else bad "installed tool: moe model init" "$(tail -5 "$scratch/tool.log")"; fi
else bad "pack and install the tool" "$(tail -10 "$scratch/pack.log" "$scratch/install.log" 2>/dev/null)"; fi

echo "publish-check: $passed passed, $failed failed"
[ "$failed" = "0" ]
