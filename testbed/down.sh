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
  name="$(basename "$pidfile" .pid)"
  pid="$(cat "$pidfile")"
  if stop_service "$name"; then $quiet || step "stopped $name (pid $pid)"; fi
done
# PostgreSQL's cluster, where it has a folder of its own (the testbed ran as root).
if [[ -f "$state_dir/postgres-dir" ]]; then
  rm -rf "$(cat "$state_dir/postgres-dir")"
  rm -f "$state_dir/postgres-dir"
fi
if [[ -f "$state_dir/data-dir" ]]; then
  rm -rf "$(cat "$state_dir/data-dir")"
  rm -f "$state_dir/data-dir"
fi
rm -f "$env_file"
$quiet || step "testbed down"
