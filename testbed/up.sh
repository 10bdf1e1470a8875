#!/usr/bin/env bash
# Brings the local testbed up on loopback: real MLflow servers (one storing its artifacts in an
# S3-compatible object store; a production-shaped one: the newest MLflow 3 on PostgreSQL with its
# basic-auth app, over TLS), etcd + kube-apiserver with the serving CRDs installed and KServe's and
# Seldon's controllers, the Pulumi CLI (language host, Kubernetes plugin) with a local file://
# backend, and the Python environments of what a serving pod runs (KServe's storage initializer,
# MLServer). Writes .testbed/env
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
# A production-shaped MLflow: the newest MLflow 3 on PostgreSQL, with its basic-auth app, over TLS.
postgres_port="${M2S_TESTBED_POSTGRES_PORT:-5819}"
mlflow_prod_port="${M2S_TESTBED_MLFLOW_PROD_PORT:-5821}"
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
venv3="$("$here/python-env.sh" "$here/requirements-mlflow3.txt")"
"$here/debian-package.sh" postgresql pg_ctlcluster > /dev/null
postgres_bin="$(dirname "$(find /usr/lib/postgresql -path '*/bin/initdb' | sort -V | tail -n 1)")"
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
  # The production-shaped MLflow's TLS certificate.
  openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=mlflow" -keyout mlflow-tls.key -out mlflow-tls.csr
  openssl_quiet x509 -req -in mlflow-tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile apiserver.ext -out mlflow-tls.crt
  openssl_quiet genrsa -out sa.key 2048
  openssl_quiet rsa -in sa.key -pubout -out sa.pub
)

step "3/7 etcd $ETCD_VERSION, kube-apiserver and kube-controller-manager $KUBERNETES_VERSION"
start_service etcd "$bin/etcd-$ETCD_VERSION" --name testbed --data-dir "$data/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "testbed=http://127.0.0.1:$etcd_peer_port" --unsafe-no-fsync --log-level warn
wait_for etcd 60 curl -fsS "http://127.0.0.1:$etcd_port/health"

# Service IPs for thousands: the serving controllers make Services for every object they serve.
start_service kube-apiserver "$bin/kube-apiserver-$KUBERNETES_VERSION" \
  --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 --secure-port "$apiserver_port" \
  --cert-dir "$pki" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode RBAC --service-cluster-ip-range 10.0.0.0/16 \
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

mlflow_version() { "$1/bin/python" -c 'import importlib.metadata as m; print(m.version("mlflow"))'; }
step "6/7 MLflow servers ($(mlflow_version "$venv"), $(mlflow_version "$venv2"); one on an S3 object store; $(mlflow_version "$venv3") on PostgreSQL with basic-auth and TLS) and Pulumi $PULUMI_VERSION"
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
# PostgreSQL refuses to run as root: as root, its cluster belongs to Debian's postgres user, in a
# folder of its own (the testbed's data folder stays private to its user).
postgres_password="$(openssl rand -hex 16)"
if [[ "$(id -u)" == 0 ]]; then
  postgres_data="$(mktemp -d "${TMPDIR:-/tmp}/mlflow2seldon-postgres.XXXXXX")"
  echo "$postgres_data" > "$state_dir/postgres-dir"
  chown postgres "$postgres_data"
  as_postgres=(runuser -u postgres --)
else
  postgres_data="$data/postgres"
  mkdir -p "$postgres_data"
  as_postgres=()
fi
( umask 077; echo "$postgres_password" > "$postgres_data/password" )
[[ "$(id -u)" != 0 ]] || chown postgres "$postgres_data/password"
"${as_postgres[@]}" "$postgres_bin/initdb" -D "$postgres_data/cluster" -A scram-sha-256 -U testbed \
  --pwfile "$postgres_data/password" -E UTF8 --locale C.UTF-8 > "$log_dir/postgres-init.log" 2>&1
rm -f "$postgres_data/password"
start_service postgres "${as_postgres[@]}" "$postgres_bin/postgres" -D "$postgres_data/cluster" \
  -h 127.0.0.1 -p "$postgres_port" -k "$postgres_data"
postgres_uri="postgresql+psycopg2://testbed:$postgres_password@127.0.0.1:$postgres_port"
wait_for postgres 60 env PGPASSWORD="$postgres_password" psql -h 127.0.0.1 -p "$postgres_port" -U testbed -d postgres -c "select 1"
env PGPASSWORD="$postgres_password" psql -q -h 127.0.0.1 -p "$postgres_port" -U testbed -d postgres \
  -c "create database mlflow" -c "create database mlflow_auth"
# MLflow's authentication app: an admin, and (below) a service user with the default READ; checked
# credentials cached for a minute, as the README advises (else every request hashes the password).
mlflow_admin_password="$(openssl rand -hex 12)" mlflow_reader_password="$(openssl rand -hex 12)"
( umask 077; mkdir -p "$data/mlflow-prod" && cat > "$data/mlflow-prod/auth.ini" <<AUTH
[mlflow]
default_permission = READ
database_uri = $postgres_uri/mlflow_auth
admin_username = admin
admin_password = $mlflow_admin_password
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
AUTH
)
start_service mlflow-prod env "${s3_env[@]}" MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$s3_port" \
  MLFLOW_AUTH_CONFIG_PATH="$data/mlflow-prod/auth.ini" MLFLOW_FLASK_SERVER_SECRET_KEY="$(openssl rand -hex 16)" \
  MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https MLFLOW_WEBHOOK_CACHE_TTL=1 MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true \
  MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY="$(openssl rand -base64 32 | tr '+/' '-_')" \
  "$venv3/bin/mlflow" server --app-name basic-auth --backend-store-uri "$postgres_uri/mlflow" \
  --artifacts-destination "s3://$s3_bucket/artifacts-prod" --host 127.0.0.1 --port "$mlflow_prod_port" \
  --allowed-hosts "127.0.0.1:*,localhost:*" \
  --uvicorn-opts "--ssl-keyfile $pki/mlflow-tls.key --ssl-certfile $pki/mlflow-tls.crt"
wait_for mlflow 120 curl -fsS "http://127.0.0.1:$mlflow_port/health"
wait_for mlflow2 120 curl -fsS "http://127.0.0.1:$mlflow2_port/health"
wait_for mlflow-s3 120 curl -fsS "http://127.0.0.1:$mlflow_s3_port/health"
wait_for mlflow-prod 180 curl -fsS --cacert "$pki/ca.crt" "https://127.0.0.1:$mlflow_prod_port/health"
curl -fsS --cacert "$pki/ca.crt" -u "admin:$mlflow_admin_password" -H 'content-type: application/json' \
  -X POST "https://127.0.0.1:$mlflow_prod_port/api/2.0/mlflow/users/create" \
  -d "{\"username\":\"m2s-reader\",\"password\":\"$mlflow_reader_password\"}" > /dev/null

# Pulumi laid out as its installer does: the bundled plugins (the Node.js language host and the
# dynamic-provider shim shipped in @pulumi/pulumi) beside the CLI, the Kubernetes provider
# installed into PULUMI_HOME. Only the CLI is on PATH: a plugin found there would make every
# command warn "using … from $PATH".
tools="$state_dir/bin"
mkdir -p "$tools" "$data/pulumi-state" "$data/pulumi-home"
pulumi_dir="$bin/pulumi-$PULUMI_VERSION-nodejs-$PULUMI_LANGUAGE_NODEJS_VERSION"
if [[ ! -x "$pulumi_dir/pulumi-language-nodejs" ]]; then
  rm -rf "$pulumi_dir" && mkdir -p "$pulumi_dir"
  ln -f "$bin/pulumi-$PULUMI_VERSION" "$pulumi_dir/pulumi" 2>/dev/null ||
    cp "$bin/pulumi-$PULUMI_VERSION" "$pulumi_dir/pulumi"
  ln -f "$bin/pulumi-language-nodejs-$PULUMI_LANGUAGE_NODEJS_VERSION" "$pulumi_dir/pulumi-language-nodejs.partial" 2>/dev/null ||
    cp "$bin/pulumi-language-nodejs-$PULUMI_LANGUAGE_NODEJS_VERSION" "$pulumi_dir/pulumi-language-nodejs.partial"
  mv "$pulumi_dir/pulumi-language-nodejs.partial" "$pulumi_dir/pulumi-language-nodejs"
fi
install -m 0755 "$root/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs" "$pulumi_dir/"
ln -sf "$pulumi_dir/pulumi" "$tools/pulumi"
rm -f "$tools/pulumi-language-nodejs" "$tools/pulumi-resource-kubernetes" "$tools/pulumi-resource-pulumi-nodejs"
PULUMI_HOME="$data/pulumi-home" PULUMI_SKIP_UPDATE_CHECK=true "$tools/pulumi" plugin install resource kubernetes \
  "$PULUMI_KUBERNETES_PLUGIN_VERSION" --file "$bin/pulumi-resource-kubernetes-$PULUMI_KUBERNETES_PROVIDER_VERSION" \
  > "$log_dir/pulumi-plugin-install.log" 2>&1 || fail "installing the Kubernetes plugin failed (log: $log_dir/pulumi-plugin-install.log)"
ln -sf "$venv/bin/mlflow" "$tools/mlflow"

# Passwords below: readable by the testbed's user only.
( umask 077; : > "$env_file.partial" )
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
export M2S_TESTBED_MLFLOW_PROD_URI=https://127.0.0.1:$mlflow_prod_port
export M2S_TESTBED_MLFLOW_PROD_CA=$pki/ca.crt
export M2S_TESTBED_MLFLOW_PROD_ARTIFACTS=s3://$s3_bucket/artifacts-prod
export M2S_TESTBED_MLFLOW_PROD_ADMIN_PASSWORD=$mlflow_admin_password
export M2S_TESTBED_MLFLOW_PROD_READER=m2s-reader
export M2S_TESTBED_MLFLOW_PROD_READER_PASSWORD=$mlflow_reader_password
export M2S_TESTBED_MLFLOW_PROD_PYTHON=$venv3/bin/python
export M2S_TESTBED_MLFLOW_PROD_TLS_CERT=$pki/mlflow-tls.crt
export M2S_TESTBED_MLFLOW_PROD_TLS_KEY=$pki/mlflow-tls.key
export M2S_TESTBED_POSTGRES_URI=postgresql://testbed:$postgres_password@127.0.0.1:$postgres_port
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
