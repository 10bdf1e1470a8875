# Shared helpers of the testbed scripts (sourced, not run).
state_dir="$root/.testbed"
log_dir="$state_dir/logs"
pid_dir="$state_dir/pids"
env_file="$state_dir/env"
testbed_started=$SECONDS

step() { printf '[testbed +%ss] %s\n' "$((SECONDS - testbed_started))" "$*" >&2; }
fail() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# Starts a service in its own session (so down.sh can stop its whole process group) with its
# output in .testbed/logs/<name>.log and its pid in .testbed/pids/<name>.pid.
start_service() {
  local name="$1"; shift
  setsid "$@" > "$log_dir/$name.log" 2>&1 < /dev/null &
  echo $! > "$pid_dir/$name.pid"
}

service_alive() { [[ -f "$pid_dir/$1.pid" ]] && kill -0 "$(cat "$pid_dir/$1.pid")" 2>/dev/null; }

# Stops a service and its process group: SIGTERM, then SIGKILL after 10 s. Returns 1 when it was
# not running.
stop_service() {
  local pidfile="$pid_dir/$1.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  rm -f "$pidfile"
  kill -0 "$pid" 2>/dev/null || return 1
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null || true
}

# wait_for NAME SECONDS CMD...: polls CMD every 0.2 s; fails naming the component, with the tail
# of its log, when the process died or the time ran out.
wait_for() {
  local name="$1" limit="$2"; shift 2
  local service="${name%% *}" deadline=$((SECONDS + limit))
  until "$@" > /dev/null 2>&1; do
    if [[ -f "$pid_dir/$service.pid" ]] && ! service_alive "$service"; then
      tail -n 30 "$log_dir/$service.log" >&2 || true
      fail "$name exited during start-up (log: $log_dir/$service.log)"
    fi
    if (( SECONDS > deadline )); then
      [[ -f "$log_dir/$service.log" ]] && tail -n 30 "$log_dir/$service.log" >&2
      fail "$name not ready after ${limit}s"
    fi
    sleep 0.2
  done
  step "$name ready"
}

testbed_services=(mlflow mlflow2 objectstore mlflow-s3 postgres mlflow-prod kserve-manager seldon-manager kube-controller-manager kube-apiserver etcd)

testbed_healthy() {
  [[ -f "$env_file" ]] || return 1
  local s
  for s in "${testbed_services[@]}"; do service_alive "$s" || return 1; done
  (
    # shellcheck disable=SC1090
    source "$env_file"
    curl -fsS "$MLFLOW_TRACKING_URI/health" > /dev/null &&
      node -e '
        const k8s = require("@kubernetes/client-node");
        const kc = new k8s.KubeConfig(); kc.loadFromDefault();
        kc.makeApiClient(k8s.VersionApi).getCode().then(() => process.exit(0), () => process.exit(1));'
  ) > /dev/null 2>&1
}
