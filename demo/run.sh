#!/usr/bin/env bash
# `make demo`: the whole story on the embedded testbed, ending in a real prediction: Seldon Core's
# operator turns the SeldonDeployment into a Deployment and a Pod, and that Pod, run as a kubelet
# would, fetches the version from the object store and answers.
# `make demo TARGET=kserve`: the same story with InferenceServices, through KServe's controller.
# `make demo TARGET=seldon-v2`: Models (no Seldon v2 scheduler here: MLServer is fed by hand).
# `make demo MLFLOW=production`: the same story against the testbed's production-shaped MLflow
# (3.17 on PostgreSQL, basic-auth, TLS): models registered by its admin, read by a user with READ.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$SECONDS
step() { printf '\n\033[1m[%s/7 +%ss] %s\033[0m\n' "$1" "$((SECONDS - started))" "$2"; }
say() { printf '    %s\n' "$*"; }

target="${TARGET:-seldon-v1}"
case "$target" in
  seldon-v1) namespace=seldon-demo stack=demo ;;
  kserve | seldon-v2) namespace="$target-demo" stack="demo-$target" ;;
  *) printf 'TARGET must be seldon-v1, kserve or seldon-v2 (got "%s")\n' "$target" >&2; exit 2 ;;
esac
mlflow_setup="${MLFLOW:-lab}"
case "$mlflow_setup" in
  lab) ;;
  production) namespace="$namespace-production" stack="$stack-production" ;;
  *) printf 'MLFLOW must be lab or production (got "%s")\n' "$mlflow_setup" >&2; exit 2 ;;
esac
iris_model="iris classifier"
alias_model="fraud_detector"
serve_port="${M2S_DEMO_SERVE_PORT:-5812}"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

step 1 "Testbed: MLflow, etcd + kube-apiserver with the serving CRDs, KServe's and Seldon's controllers, Pulumi CLI (the first run builds and caches the binaries)"
testbed/up.sh
# shellcheck disable=SC1091
source .testbed/env
# The serving systems fetch models from object storage: the story uses an MLflow server whose
# artifacts live in the testbed's S3 bucket.
if [[ "$mlflow_setup" == production ]]; then
  export MLFLOW_TRACKING_URI="$M2S_TESTBED_MLFLOW_PROD_URI"
  artifacts="$M2S_TESTBED_MLFLOW_PROD_ARTIFACTS" python="$M2S_TESTBED_MLFLOW_PROD_PYTHON"
else
  export MLFLOW_TRACKING_URI="$M2S_TESTBED_S3_MLFLOW_URI"
  artifacts="$M2S_TESTBED_S3_ARTIFACTS" python="$M2S_TESTBED_PYTHON"
fi
# Registering and promoting are the admin's part (production); passwords go in the environment
# or on stdin, never on a command line.
as_registry_admin() {
  if [[ "$mlflow_setup" == production ]]; then
    MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD="$M2S_TESTBED_MLFLOW_PROD_ADMIN_PASSWORD" \
      MLFLOW_TRACKING_SERVER_CERT_PATH="$M2S_TESTBED_MLFLOW_PROD_CA" "$@"
  else
    "$@"
  fi
}
# The sync service runs from its build (the Pulumi program needs none: Pulumi runs the TypeScript).
npx tsc -p tsconfig.json
export TARGET="$target"
kind="$(node demo/kube.js kind)"
say "target $target ($kind), MLflow $MLFLOW_TRACKING_URI ($mlflow_setup), KUBECONFIG=$KUBECONFIG, Pulumi backend $PULUMI_BACKEND_URL"

mlflow_post() {
  local auth=""
  [[ "$mlflow_setup" == production ]] &&
    auth="$(printf 'user = "admin:%s"\ncacert = "%s"' "$M2S_TESTBED_MLFLOW_PROD_ADMIN_PASSWORD" "$M2S_TESTBED_MLFLOW_PROD_CA")"
  curl -fsS -K - -X POST -H 'content-type: application/json' "$MLFLOW_TRACKING_URI/api/2.0/mlflow/$1" -d "$2" <<< "$auth" > /dev/null
}
json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s.trim().split("\n").pop())[process.argv[1]].join(" ")))' "$1"; }
train() { as_registry_admin "$python" demo/iris.py train "$1" 2> "$root/.testbed/logs/demo-train.log" | json_field versions; }

step 2 "Train scikit-learn models on the iris data and register two versions of \"$iris_model\""
read -r v1 v2 <<< "$(train "$iris_model")"
say "registered \"$iris_model\" versions $v1 and $v2"

step 3 "Version $v1 -> Production; pulumi up on stack \"$stack\" (local backend)"
mlflow_post model-versions/transition-stage "{\"name\":\"$iris_model\",\"version\":\"$v1\",\"stage\":\"Production\",\"archive_existing_versions\":true}"
# The plain Pulumi CLI from the repository root, as a user types it: the stack's config goes to
# Pulumi.demo.yaml, its state to the testbed's local backend.
# A demo stack from an earlier run is removed first, so every run tells the same story.
if pulumi stack ls --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.exit(JSON.parse(s).some(x=>x.name===process.argv[1])?0:1))' "$stack"; then
  say "stack \"$stack\" exists from an earlier run: destroying it so the story starts from nothing"
  pulumi destroy --yes --stack "$stack" > "$root/.testbed/logs/demo-destroy-$stack.log"
  pulumi stack rm --yes --stack "$stack" > /dev/null
fi
# The cluster admin's part: the namespace, with the object store's credentials where the serving
# system reads them (the stack then uses the namespace without managing it).
node demo/kube.js credentials "$namespace"
say "namespace $namespace with the object store's credentials (see demo/kube.js credentials)"
pulumi stack select --create "$stack" > /dev/null
set_config() { pulumi config set --stack "$stack" "mlflow2seldon:$1" "$2"; }
set_config mlflowUrl "$MLFLOW_TRACKING_URI"
set_config kubeContext testbed
set_config deploymentNamespace "$namespace"
set_config serviceNamespace "mlflow2seldon-$stack"
set_config serviceImage registry.example.com/mlflow2seldon:0.1.0
set_config target "$target"
set_config modelUriPrefix "$artifacts"
if [[ "$mlflow_setup" == production ]]; then
  # The stack reads the registry as a user with READ; the password is a secret in its config.
  set_config mlflowUsername "$M2S_TESTBED_MLFLOW_PROD_READER"
  printf %s "$M2S_TESTBED_MLFLOW_PROD_READER_PASSWORD" | pulumi config set --stack "$stack" --secret mlflow2seldon:mlflowPassword
  pulumi config set --stack "$stack" mlflow2seldon:mlflowCaCertificate -- "$(cat "$M2S_TESTBED_MLFLOW_PROD_CA")"
fi
case "$target" in
  seldon-v1)
    set_config servingMode mlflow-server
    set_config protocol v2
    set_config credentialsSecret models-rclone
    ;;
  kserve) set_config serviceAccount model-reader ;;
esac
set_config stackModels "[\"$iris_model\"]"
set_config skipAwait true
say "$ pulumi up --yes --stack $stack"
pulumi up --yes --stack "$stack"
stack_objects="mlflow2seldon.io/owner=stack-$stack"
say "the $kind (kubectl get $kind -n $namespace -o yaml):"
node demo/kube.js yaml "$namespace" "$stack_objects" | sed 's/^/    /'

step 4 "Version $v2 -> Production; pulumi preview shows the planned update; pulumi up applies it"
mlflow_post model-versions/transition-stage "{\"name\":\"$iris_model\",\"version\":\"$v2\",\"stage\":\"Production\",\"archive_existing_versions\":true}"
say "$ pulumi preview --diff --stack $stack"
pulumi preview --diff --stack "$stack"
say "$ pulumi up --yes --stack $stack"
pulumi up --yes --stack "$stack"

step 5 "The continuous sync service follows an alias: $alias_model@champion"
read -r a1 a2 <<< "$(train "$alias_model")"
case "$target" in
  seldon-v1) serving=(M2S_SERVING_MODE=mlflow-server M2S_PROTOCOL=v2 M2S_SELDON_CREDENTIALS_SECRET=models-rclone) ;;
  kserve) serving=(M2S_SERVICE_ACCOUNT=model-reader) ;;
  *) serving=() ;;
esac
(
  # The service reads as the user with READ, the CA given as its setting.
  if [[ "$mlflow_setup" == production ]]; then
    export M2S_MLFLOW_USERNAME="$M2S_TESTBED_MLFLOW_PROD_READER" M2S_MLFLOW_PASSWORD="$M2S_TESTBED_MLFLOW_PROD_READER_PASSWORD"
    export M2S_MLFLOW_CA_FILE="$M2S_TESTBED_MLFLOW_PROD_CA"
  fi
  exec env M2S_MLFLOW_HOST="$MLFLOW_TRACKING_URI" M2S_SELDON_DEPLOYMENT_NS="$namespace" M2S_INCLUDE_MODELS="$alias_model" \
    M2S_TARGET="$target" M2S_MODEL_URI_PREFIX="$artifacts" "${serving[@]}" M2S_SYNC_INTERVAL_SECONDS=2 M2S_HTTP_PORT=0 M2S_OWNER=service \
    setsid node bin/mlflow2seldon.js sync
) > "$root/.testbed/logs/demo-sync.log" 2>&1 &
pids+=($!)
service_objects="mlflow2seldon.io/owner=service"
for version in "$a1" "$a2"; do
  mlflow_post registered-models/alias "{\"name\":\"$alias_model\",\"alias\":\"champion\",\"version\":\"$version\"}"
  node demo/kube.js wait "$namespace" "$service_objects" "$version"
  say "champion -> version $version: the service updated $(node demo/kube.js yaml "$namespace" "$service_objects" | grep -m1 '^  name:' | awk '{print $2}') to version $version"
done
kill -TERM -- "-${pids[0]}"
say "sync service stopped (log: .testbed/logs/demo-sync.log)"

storage_uri="$(node demo/kube.js storage-uri "$namespace" "$stack_objects")"
body="$("$M2S_TESTBED_PYTHON" demo/iris.py v2 -)"
if [[ "$target" == seldon-v2 ]]; then
  step 6 "Serve the Production model from the storage URI its $kind names"
  say "No Seldon v2 scheduler or agent runs here: KServe's storage initializer (kserve-storage) fetches"
  say "the model from the object store and MLServer with its MLflow runtime serves it, as local processes."
  say "storageUri: $storage_uri"
  repository="$root/.testbed/demo-mlserver"
  rm -rf "$repository" && mkdir -p "$repository/iris"
  AWS_ENDPOINT_URL="$M2S_TESTBED_S3_ENDPOINT" AWS_ACCESS_KEY_ID="$M2S_TESTBED_S3_ACCESS_KEY_ID" \
    AWS_SECRET_ACCESS_KEY="$M2S_TESTBED_S3_SECRET_ACCESS_KEY" AWS_DEFAULT_REGION=us-east-1 \
    "$M2S_TESTBED_STORAGE_PYTHON" -c 'import sys; from kserve_storage import Storage; Storage.download(sys.argv[1], sys.argv[2])' \
    "$storage_uri" "$repository/model" 2> "$root/.testbed/logs/demo-storage.log"
  say "fetched into $repository/model: $(ls "$repository/model" | tr '\n' ' ')"
  printf '{"host":"127.0.0.1","http_port":%s,"grpc_port":%s,"metrics_port":%s}\n' \
    "$serve_port" "$((serve_port + 10))" "$((serve_port + 20))" > "$repository/settings.json"
  printf '{"name":"iris","implementation":"mlserver_mlflow.MLflowRuntime","parameters":{"uri":"%s"}}\n' \
    "$repository/model" > "$repository/iris/model-settings.json"
  setsid "$(dirname "$M2S_TESTBED_MLSERVER_PYTHON")/mlserver" start "$repository" > "$root/.testbed/logs/demo-serve.log" 2>&1 &
  pids+=($!)
  model_url="http://127.0.0.1:$serve_port/v2/models/iris"
else
  controller="$([[ "$target" == kserve ]] && echo "KServe's controller" || echo "Seldon Core's operator")"
  step 6 "The Pod $controller made for the Production $kind, run as a kubelet would"
  object="$(node demo/kube.js name "$namespace" "$stack_objects")"
  say "storageUri: $storage_uri"
  say "No kubelet runs here: the Pod is read from the API server and its containers run as local processes"
  say "with the Pod's own args and env (the programs standing for its images are named below)."
  pod_log="$root/.testbed/logs/demo-pod.log"
  setsid node dist/testbed/run-pod.js "$target" "$namespace" "$object" "$storage_uri" > "$pod_log" 2>&1 &
  pids+=($!)
  until grep -q '^running$' "$pod_log"; do
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$pod_log" >&2; exit 1; }
    sleep 0.5
  done
  grep -E '^(Pod |  )' "$pod_log" | sed 's/^/    /'
  model_url="$(sed -n 's/^v2 //p' "$pod_log")"
fi
for _ in $(seq 1 600); do curl -fsS "$model_url/ready" > /dev/null 2>&1 && break; sleep 0.2; done
say "POST $model_url/infer $body"
reply="$(curl -fsS -X POST -H 'content-type: application/json' "$model_url/infer" -d "$body")"
say "-> predictions $(node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]).outputs[0].data))' "$reply")"

step 7 "Done"
say "MLflow:       $MLFLOW_TRACKING_URI (\"$iris_model\" v$v2 in Production, \"$alias_model\"@champion = v$a2)"
say "Cluster:      ${kind}s in namespace $namespace (and the serving system's Deployments and Pods)"
say "Pulumi stack: $stack (Pulumi.$stack.yaml; pulumi stack --stack $stack)"
say "Clean up:     make demo-clean   (pulumi destroy + testbed down)"
