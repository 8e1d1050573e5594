# shellcheck shell=bash
# Sourced by the scenario scripts (loadtests/*-scenario, rank-loss, shadow-overhead): stop what a scenario started when it
# ends, however it ends - normally, on an error (set -e), on Ctrl-C (INT), from `timeout` or `kill` (TERM), or a hang-up.

# moe_stop PID...: TERM to each, up to MOE_STOP_GRACE seconds (default 15) for them to exit, then KILL to the rest.
moe_stop() {
  local p alive
  [ "$#" -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  for _ in $(seq 1 $((${MOE_STOP_GRACE:-15} * 10))); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# moe_on_exit COMMAND: runs COMMAND once when the script exits or is stopped by INT, TERM or HUP (then exits 128 + signal).
moe_on_exit() {
  _moe_cleanup=$1
  trap '_moe_run_cleanup' EXIT
  trap '_moe_run_cleanup; trap - EXIT; exit 129' HUP
  trap '_moe_run_cleanup; trap - EXIT; exit 130' INT
  trap '_moe_run_cleanup; trap - EXIT; exit 143' TERM
}

_moe_run_cleanup() {
  local command=${_moe_cleanup:-}
  _moe_cleanup=
  [ -z "$command" ] || eval "$command"
}
