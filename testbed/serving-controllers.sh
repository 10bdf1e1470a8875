#!/usr/bin/env bash
# Starts (up) or stops (down) the serving controllers on the running testbed: KServe's controller
# manager (Standard mode) and Seldon Core's v1 operator, out of cluster, with their webhooks
# registered on loopback. testbed/up.sh has installed their CRDs and ConfigMaps; the tests that
# prove what the controllers do with the service's objects start them, and stop them afterwards
# (webhook configurations removed first: they refuse every write while their server is down).
#   testbed/serving-controllers.sh up|down
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=testbed/versions.sh
source "$here/versions.sh"
# shellcheck source=testbed/lib.sh
source "$here/lib.sh"
[[ -f "$env_file" ]] || fail "the testbed is not up (testbed/up.sh)"
# shellcheck disable=SC1090
source "$env_file"
bin="${M2S_CACHE_DIR:-$HOME/.cache/mlflow2seldon}/bin"
data="$M2S_TESTBED_DATA_DIR"
kserve_webhook_port="${M2S_TESTBED_KSERVE_WEBHOOK_PORT:-6561}"
kserve_health_port="${M2S_TESTBED_KSERVE_HEALTH_PORT:-6562}"
kserve_metrics_port="${M2S_TESTBED_KSERVE_METRICS_PORT:-6563}"
seldon_webhook_port="${M2S_TESTBED_SELDON_WEBHOOK_PORT:-6565}"
seldon_metrics_port="${M2S_TESTBED_SELDON_METRICS_PORT:-6566}"
export M2S_VENDOR_DIR="${M2S_VENDOR_DIR:-$root/../shared/vendor}" M2S_PKI="$data/pki" \
  M2S_APISERVER="$(sed -n 's/^ *server: //p' "$KUBECONFIG")" \
  M2S_KSERVE_WEBHOOK_PORT="$kserve_webhook_port" M2S_SELDON_WEBHOOK_PORT="$seldon_webhook_port" \
  M2S_KSERVE_VERSION="$KSERVE_VERSION"

stop_manager() {
  local pidfile="$pid_dir/$1.pid"
  [[ -f "$pidfile" ]] || return 0
  kill -TERM -- "-$(cat "$pidfile")" 2>/dev/null || true
  for _ in $(seq 1 50); do service_alive "$1" || break; sleep 0.2; done
  kill -KILL -- "-$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

case "${1:-}" in
  up)
    if service_alive kserve-manager && service_alive seldon-manager; then step "serving controllers already running"; exit 0; fi
    # Both managers read their webhook certificate from controller-runtime's folder under TMPDIR.
    for manager in kserve seldon; do
      mkdir -p "$data/$manager/k8s-webhook-server/serving-certs"
      cp "$data/pki/webhooks.crt" "$data/$manager/k8s-webhook-server/serving-certs/tls.crt"
      cp "$data/pki/webhooks.key" "$data/$manager/k8s-webhook-server/serving-certs/tls.key"
    done
    start_service kserve-manager env TMPDIR="$data/kserve" POD_NAMESPACE=kserve \
      "$bin/kserve-manager-$KSERVE_VERSION" -kubeconfig "$KUBECONFIG" -webhook-port "$kserve_webhook_port" \
      -metrics-addr "127.0.0.1:$kserve_metrics_port" -health-probe-addr "127.0.0.1:$kserve_health_port"
    seldon_env_lines="$(node "$here/controllers.mjs" seldon-env)"
    mapfile -t seldon_env <<< "$seldon_env_lines"
    start_service seldon-manager env TMPDIR="$data/seldon" "${seldon_env[@]}" \
      "$bin/seldon-manager-$SELDON_CORE_VERSION" --kubeconfig "$KUBECONFIG" --webhook-port "$seldon_webhook_port" \
      --metrics-addr "127.0.0.1:$seldon_metrics_port"
    wait_for kserve-manager 120 curl -fsS "http://127.0.0.1:$kserve_health_port/readyz"
    wait_for seldon-manager 120 curl -sS --cacert "$data/pki/ca.crt" "https://127.0.0.1:$seldon_webhook_port/"
    node "$here/controllers.mjs" webhooks
    step "serving controllers up: KServe $KSERVE_VERSION, Seldon Core operator $SELDON_CORE_VERSION (logs in $log_dir)"
    ;;
  down)
    node "$here/controllers.mjs" remove-webhooks
    stop_manager kserve-manager
    stop_manager seldon-manager
    step "serving controllers stopped"
    ;;
  *) echo "usage: testbed/serving-controllers.sh up|down" >&2; exit 2 ;;
esac
