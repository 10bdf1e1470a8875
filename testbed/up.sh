#!/usr/bin/env bash
# Brings the local testbed up on loopback: real MLflow servers (one storing its artifacts in an
# S3-compatible object store), etcd + kube-apiserver with the serving CRDs installed, the Pulumi
# CLI (language host, Kubernetes plugin) with a local file:// backend, and the Python
# environments of what a serving pod runs (KServe's storage initializer, MLServer). Writes .testbed/env
# (export lines for tests, the demo and a person's shell). Running it again while the testbed
# is healthy changes nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=testbed/versions.sh
source "$here/versions.sh"
# shellcheck source=testbed/lib.sh
source "$here/lib.sh"
# Node.js >= 22.19 for the checks below and for .testbed/env (Node.js 24 from the cache if needed).
node_bin="$("$here/node.sh")"
[[ -z "$node_bin" ]] || export PATH="$node_bin:$PATH"
node_bin="$(dirname "$(command -v node)")"

crd_dir="${M2S_CRD_DIR:-$root/../shared/fixtures/crds}"
mlflow_port="${M2S_TESTBED_MLFLOW_PORT:-5811}"
# An MLflow 2.x server as well, so the client is proven against both API generations.
mlflow2_port="${M2S_TESTBED_MLFLOW2_PORT:-5813}"
# moto's S3 server, and an MLflow server whose artifacts live in its bucket.
s3_port="${M2S_TESTBED_S3_PORT:-5815}"
mlflow_s3_port="${M2S_TESTBED_MLFLOW_S3_PORT:-5817}"
s3_bucket=mlflow
etcd_port="${M2S_TESTBED_ETCD_PORT:-2389}"
etcd_peer_port="${M2S_TESTBED_ETCD_PEER_PORT:-2390}"
apiserver_port="${M2S_TESTBED_APISERVER_PORT:-6553}"
controller_manager_port="${M2S_TESTBED_CONTROLLER_MANAGER_PORT:-6557}"
kserve_webhook_port="${M2S_TESTBED_KSERVE_WEBHOOK_PORT:-6561}"
kserve_health_port="${M2S_TESTBED_KSERVE_HEALTH_PORT:-6562}"
kserve_metrics_port="${M2S_TESTBED_KSERVE_METRICS_PORT:-6563}"
seldon_webhook_port="${M2S_TESTBED_SELDON_WEBHOOK_PORT:-6565}"
seldon_metrics_port="${M2S_TESTBED_SELDON_METRICS_PORT:-6566}"
vendor_dir="${M2S_VENDOR_DIR:-$root/../shared/vendor}"

if testbed_healthy; then
  step "testbed already running (.testbed/env)"
  exit 0
fi
# A half-started or crashed testbed is cleaned away before starting afresh.
"$here/down.sh" --quiet

step "1/7 binaries (cached in ${M2S_CACHE_DIR:-$HOME/.cache/mlflow2seldon})"
"$here/build-binaries.sh"
venv="$("$here/python-env.sh")"
venv2="$("$here/python-env.sh" "$here/requirements-mlflow2.txt")"
venv_moto="$("$here/python-env.sh" "$here/requirements-moto.txt")"
venv_storage="$("$here/python-env.sh" "$here/requirements-kserve-storage.txt")"
venv_mlserver="$("$here/python-env.sh" "$here/requirements-mlserver.txt")"
chromium="$("$here/debian-package.sh" chromium)"
rclone="$("$here/debian-package.sh" rclone)"
bin="${M2S_CACHE_DIR:-$HOME/.cache/mlflow2seldon}/bin"
[[ -d "$crd_dir" ]] || fail "CRD folder not found: $crd_dir (set M2S_CRD_DIR)"

mkdir -p "$state_dir" "$log_dir" "$pid_dir"
data="$(mktemp -d "${TMPDIR:-/tmp}/mlflow2seldon-testbed.XXXXXX")"
echo "$data" > "$state_dir/data-dir"
pki="$data/pki"
mkdir -p "$pki"

step "2/7 certificates (CA, serving, admin client, service-account keys)"
(
  cd "$pki"
  openssl_quiet() { openssl "$@" 2>/dev/null; }
  openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mlflow2seldon-testbed-ca" -keyout ca.key -out ca.crt
  openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > apiserver.ext
  openssl_quiet x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile apiserver.ext -out apiserver.crt
  openssl_quiet req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=admin" -keyout admin.key -out admin.csr
  printf 'extendedKeyUsage=clientAuth\n' > admin.ext
  openssl_quiet x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile admin.ext -out admin.crt
  # The serving controllers' webhooks, called by the API server on loopback.
  openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=serving-webhooks" -keyout webhooks.key -out webhooks.csr
  openssl_quiet x509 -req -in webhooks.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile apiserver.ext -out webhooks.crt
  openssl_quiet genrsa -out sa.key 2048
  openssl_quiet rsa -in sa.key -pubout -out sa.pub
)

step "3/7 etcd $ETCD_VERSION, kube-apiserver and kube-controller-manager $KUBERNETES_VERSION"
start_service etcd "$bin/etcd-$ETCD_VERSION" --name testbed --data-dir "$data/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "testbed=http://127.0.0.1:$etcd_peer_port" --unsafe-no-fsync --log-level warn
wait_for etcd 60 curl -fsS "http://127.0.0.1:$etcd_port/health"

start_service kube-apiserver "$bin/kube-apiserver-$KUBERNETES_VERSION" \
  --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 --secure-port "$apiserver_port" \
  --cert-dir "$pki" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode RBAC --service-cluster-ip-range 10.0.0.0/24 \
  --allow-privileged=true --disable-admission-plugins ServiceAccount \
  --service-account-issuer "https://127.0.0.1:$apiserver_port/" \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key"
api() { curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$@"; }
wait_for kube-apiserver 120 api "https://127.0.0.1:$apiserver_port/readyz"

kubeconfig="$data/kubeconfig"
b64() { base64 -w0 < "$1"; }
cat > "$kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: testbed
  context: {cluster: testbed, user: admin}
current-context: testbed
KUBECONFIG

# The namespace and garbage-collector controllers (a deleted namespace and what it holds really
# go away), the deployment and replicaset controllers (the serving controllers' Deployments get
# ReplicaSets and Pods; no kubelet runs, so the Pods stay Pending) and default service accounts.
start_service kube-controller-manager "$bin/kube-controller-manager-$KUBERNETES_VERSION" \
  --kubeconfig "$kubeconfig" --controllers namespace,garbagecollector,deployment,replicaset,serviceaccount --leader-elect=false \
  --bind-address 127.0.0.1 --secure-port "$controller_manager_port" --cert-dir "$pki/controller-manager"
wait_for kube-controller-manager 60 curl -fsSk "https://127.0.0.1:$controller_manager_port/healthz"

step "4/7 CRDs from $crd_dir"
crd_url="https://127.0.0.1:$apiserver_port/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# Seldon's v1 CRD declares the recursive graph `children` as `items: {}`, which current API servers
# reject as non-structural; installers give those items `type: object` with unknown fields
# preserved. Only that line changes: the rest of the schema still judges every manifest.
mkdir -p "$data/crds"
for crd in "$crd_dir"/*.yaml; do
  patched="$data/crds/$(basename "$crd")"
  sed -E 's/^( *)items: \{\}$/\1items:\n\1  type: object\n\1  x-kubernetes-preserve-unknown-fields: true/' "$crd" > "$patched"
  code="$(api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/yaml' --data-binary "@$patched" "$crd_url" || true)"
  [[ "$code" == 201 || "$code" == 409 ]] || fail "installing $(basename "$crd") failed with HTTP $code"
done
established() {
  api "$crd_url" | node -e '
    const items = JSON.parse(require("fs").readFileSync(0, "utf8")).items;
    const pending = items.filter((c) => !(c.status?.conditions ?? []).some((k) => k.type === "Established" && k.status === "True"));
    process.exit(items.length >= Number(process.argv[1]) && pending.length === 0 ? 0 : 1);' "$(ls "$crd_dir"/*.yaml | wc -l)"
}
wait_for "CRDs Established" 60 established
# Established is not yet listable: the API server answers 429 "storage is (re)initializing" until
# the new resource's cache is ready.
served() {
  api "https://127.0.0.1:$apiserver_port/apis/machinelearning.seldon.io/v1/seldondeployments" &&
    api "https://127.0.0.1:$apiserver_port/apis/serving.kserve.io/v1beta1/inferenceservices" &&
    api "https://127.0.0.1:$apiserver_port/apis/mlops.seldon.io/v1alpha1/models"
}
wait_for "custom resources served" 60 served

step "5/7 serving controllers' configuration: KServe $KSERVE_VERSION (Standard mode) and Seldon Core operator $SELDON_CORE_VERSION"
export M2S_VENDOR_DIR="$vendor_dir" M2S_APISERVER="https://127.0.0.1:$apiserver_port" M2S_PKI="$pki" \
  M2S_KSERVE_VERSION="$KSERVE_VERSION" M2S_KSERVE_WEBHOOK_PORT="$kserve_webhook_port" \
  M2S_SELDON_WEBHOOK_PORT="$seldon_webhook_port"
node "$here/controllers.mjs" config

step "6/7 MLflow servers ($("$venv/bin/mlflow" --version | awk '{print $3}'), $("$venv2/bin/mlflow" --version | awk '{print $3}'); one on an S3 object store) and Pulumi $PULUMI_VERSION"
mkdir -p "$data/mlflow/artifacts"
# MLflow 3.5+ checks the Host header: allow any loopback port (tests put a fault proxy in front).
# Webhooks to the sync service on loopback (http), with the server's webhook list cached for 1 s
# instead of 60, so a webhook a test registers receives the next event; one key to encrypt their
# secrets for both workers (each would otherwise make its own and not read the other's).
start_service mlflow env MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https MLFLOW_WEBHOOK_CACHE_TTL=1 \
  MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY="$(openssl rand -base64 32 | tr '+/' '-_')" "$venv/bin/mlflow" server --backend-store-uri "sqlite:///$data/mlflow/mlflow.db" \
  --artifacts-destination "$data/mlflow/artifacts" --serve-artifacts \
  --host 127.0.0.1 --port "$mlflow_port" --workers 2 --allowed-hosts "127.0.0.1:*,localhost:*"
mkdir -p "$data/mlflow2/artifacts"
start_service mlflow2 "$venv2/bin/mlflow" server --backend-store-uri "sqlite:///$data/mlflow2/mlflow.db" \
  --artifacts-destination "$data/mlflow2/artifacts" --serve-artifacts --host 127.0.0.1 --port "$mlflow2_port"
# The object store's credentials are the testbed's own (moto accepts any).
s3_access_key=testbed s3_secret_key=testbed-secret
s3_env=(AWS_ACCESS_KEY_ID="$s3_access_key" AWS_SECRET_ACCESS_KEY="$s3_secret_key" AWS_DEFAULT_REGION=us-east-1)
start_service objectstore "$venv_moto/bin/moto_server" -H 127.0.0.1 -p "$s3_port"
wait_for objectstore 60 curl -fsS "http://127.0.0.1:$s3_port/"
curl -fsS -X PUT "http://127.0.0.1:$s3_port/$s3_bucket" > /dev/null
mkdir -p "$data/mlflow-s3"
start_service mlflow-s3 env "${s3_env[@]}" MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$s3_port" \
  "$venv/bin/mlflow" server --backend-store-uri "sqlite:///$data/mlflow-s3/mlflow.db" \
  --artifacts-destination "s3://$s3_bucket/artifacts" --host 127.0.0.1 --port "$mlflow_s3_port" --workers 1 \
  --allowed-hosts "127.0.0.1:*,localhost:*"
wait_for mlflow 120 curl -fsS "http://127.0.0.1:$mlflow_port/health"
wait_for mlflow2 120 curl -fsS "http://127.0.0.1:$mlflow2_port/health"
wait_for mlflow-s3 120 curl -fsS "http://127.0.0.1:$mlflow_s3_port/health"

# Pulumi finds plugins on PATH: the CLI, its Node.js language host, the Kubernetes provider and
# the dynamic-provider shim shipped in @pulumi/pulumi.
tools="$state_dir/bin"
mkdir -p "$tools" "$data/pulumi-state" "$data/pulumi-home"
ln -sf "$bin/pulumi-$PULUMI_VERSION" "$tools/pulumi"
ln -sf "$bin/pulumi-language-nodejs-$PULUMI_LANGUAGE_NODEJS_VERSION" "$tools/pulumi-language-nodejs"
ln -sf "$bin/pulumi-resource-kubernetes-$PULUMI_KUBERNETES_PROVIDER_VERSION" "$tools/pulumi-resource-kubernetes"
ln -sf "$root/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs" "$tools/pulumi-resource-pulumi-nodejs"
ln -sf "$venv/bin/mlflow" "$tools/mlflow"

cat > "$env_file.partial" <<ENV
# Written by testbed/up.sh; source it: . .testbed/env
export MLFLOW_TRACKING_URI=http://127.0.0.1:$mlflow_port
export M2S_MLFLOW_HOST=http://127.0.0.1:$mlflow_port
export M2S_TESTBED_MLFLOW2_URI=http://127.0.0.1:$mlflow2_port
export M2S_TESTBED_ARTIFACTS_ROOT=$data/mlflow/artifacts
export M2S_TESTBED_DATA_DIR=$data
export M2S_TESTBED_PYTHON=$venv/bin/python
export M2S_TESTBED_S3_ENDPOINT=http://127.0.0.1:$s3_port
export M2S_TESTBED_S3_MLFLOW_URI=http://127.0.0.1:$mlflow_s3_port
export M2S_TESTBED_S3_ARTIFACTS=s3://$s3_bucket/artifacts
export M2S_TESTBED_S3_ACCESS_KEY_ID=$s3_access_key
export M2S_TESTBED_S3_SECRET_ACCESS_KEY=$s3_secret_key
export M2S_TESTBED_STORAGE_PYTHON=$venv_storage/bin/python
export M2S_TESTBED_STORAGE_INITIALIZER=$here/storage-initializer-entrypoint.py
export M2S_TESTBED_MLSERVER_PYTHON=$venv_mlserver/bin/python
export KUBECONFIG=$kubeconfig
export M2S_TESTBED_CHROMIUM=$chromium
export M2S_TESTBED_RCLONE=$rclone
export PATH=$tools:$node_bin:\$PATH
export PULUMI_HOME=$data/pulumi-home
export PULUMI_BACKEND_URL=file://$data/pulumi-state
export PULUMI_CONFIG_PASSPHRASE=mlflow2seldon-testbed
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
ENV

step "7/7 serving controllers: KServe $KSERVE_VERSION's controller manager and Seldon Core operator $SELDON_CORE_VERSION, with their webhooks"
# Out of cluster on loopback; both read their webhook certificate from controller-runtime's folder
# under TMPDIR.
for manager in kserve seldon; do
  mkdir -p "$data/$manager/k8s-webhook-server/serving-certs"
  cp "$pki/webhooks.crt" "$data/$manager/k8s-webhook-server/serving-certs/tls.crt"
  cp "$pki/webhooks.key" "$data/$manager/k8s-webhook-server/serving-certs/tls.key"
done
start_service kserve-manager env TMPDIR="$data/kserve" POD_NAMESPACE=kserve \
  "$bin/kserve-manager-$KSERVE_VERSION" -kubeconfig "$kubeconfig" -webhook-port "$kserve_webhook_port" \
  -metrics-addr "127.0.0.1:$kserve_metrics_port" -health-probe-addr "127.0.0.1:$kserve_health_port"
seldon_env_lines="$(node "$here/controllers.mjs" seldon-env)"
mapfile -t seldon_env <<< "$seldon_env_lines"
start_service seldon-manager env TMPDIR="$data/seldon" "${seldon_env[@]}" \
  "$bin/seldon-manager-$SELDON_CORE_VERSION" --kubeconfig "$kubeconfig" --webhook-port "$seldon_webhook_port" \
  --metrics-addr "127.0.0.1:$seldon_metrics_port"
wait_for kserve-manager 120 curl -fsS "http://127.0.0.1:$kserve_health_port/readyz"
wait_for seldon-manager 120 curl -sS --cacert "$pki/ca.crt" "https://127.0.0.1:$seldon_webhook_port/"
node "$here/controllers.mjs" webhooks

mv "$env_file.partial" "$env_file"
step "testbed up: MLflow http://127.0.0.1:$mlflow_port, kube-apiserver https://127.0.0.1:$apiserver_port, logs in $log_dir"
