#!/usr/bin/env bash
# Stops every process the testbed started (by pid, with its process group) and removes its
# temporary data; logs stay in .testbed/logs. Safe to run when nothing is up.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=testbed/lib.sh
source "$here/lib.sh"
quiet=false; [[ "${1:-}" == --quiet ]] && quiet=true

shopt -s nullglob
for pidfile in "$pid_dir"/*.pid; do
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    $quiet || step "stopped $(basename "$pidfile" .pid) (pid $pid)"
  fi
  rm -f "$pidfile"
done
if [[ -f "$state_dir/data-dir" ]]; then
  rm -rf "$(cat "$state_dir/data-dir")"
  rm -f "$state_dir/data-dir"
fi
rm -f "$env_file"
$quiet || step "testbed down"
