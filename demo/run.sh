#!/usr/bin/env bash
# `make demo`: the whole story on the embedded testbed, ending in a real prediction.
# `make demo TARGET=kserve` (or seldon-v2): the same story with that target's objects, the
# registry's artifacts in the testbed's S3 object store, and the prediction from MLServer.
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
iris_model="iris classifier"
alias_model="fraud_detector"
serve_port="${M2S_DEMO_SERVE_PORT:-5812}"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

step 1 "Testbed: MLflow, etcd + kube-apiserver with the serving CRDs, Pulumi CLI (the first run builds and caches the binaries)"
testbed/up.sh
# shellcheck disable=SC1091
source .testbed/env
# KServe and Seldon v2 read models from object storage: their story uses the MLflow server whose
# artifacts live in the testbed's S3 bucket.
[[ "$target" == seldon-v1 ]] || export MLFLOW_TRACKING_URI="$M2S_TESTBED_S3_MLFLOW_URI"
# The sync service runs from its build (the Pulumi program needs none: Pulumi runs the TypeScript).
npx tsc -p tsconfig.json
export TARGET="$target"
kind="$(node demo/kube.js kind)"
say "target $target ($kind), MLflow $MLFLOW_TRACKING_URI, KUBECONFIG=$KUBECONFIG, Pulumi backend $PULUMI_BACKEND_URL"

mlflow_post() { curl -fsS -X POST -H 'content-type: application/json' "$MLFLOW_TRACKING_URI/api/2.0/mlflow/$1" -d "$2" > /dev/null; }
json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s.trim().split("\n").pop())[process.argv[1]].join(" ")))' "$1"; }
train() { "$M2S_TESTBED_PYTHON" demo/iris.py train "$1" 2> "$root/.testbed/logs/demo-train.log" | json_field versions; }

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
pulumi stack select --create "$stack" > /dev/null
set_config() { pulumi config set --stack "$stack" "mlflow2seldon:$1" "$2"; }
set_config mlflowUrl "$MLFLOW_TRACKING_URI"
set_config kubeContext testbed
set_config deploymentNamespace "$namespace"
set_config serviceNamespace "mlflow2seldon-$stack"
set_config serviceImage registry.example.com/mlflow2seldon:0.1.0
set_config target "$target"
if [[ "$target" == seldon-v1 ]]; then
  set_config wrapperImage registry.example.com/mlflow-wrapper:1.0
  set_config storageRoot "$M2S_TESTBED_ARTIFACTS_ROOT"
else
  set_config modelUriPrefix "$M2S_TESTBED_S3_ARTIFACTS"
fi
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
if [[ "$target" == seldon-v1 ]]; then
  serving=(M2S_SELDON_NEURO_DEF_IMAGE=registry.example.com/mlflow-wrapper:1.0 M2S_MLFLOW_STORAGE_ROOT="$M2S_TESTBED_ARTIFACTS_ROOT")
else
  serving=(M2S_MODEL_URI_PREFIX="$M2S_TESTBED_S3_ARTIFACTS")
fi
env M2S_MLFLOW_HOST="$MLFLOW_TRACKING_URI" M2S_SELDON_DEPLOYMENT_NS="$namespace" M2S_INCLUDE_MODELS="$alias_model" \
  M2S_TARGET="$target" "${serving[@]}" M2S_SYNC_INTERVAL_SECONDS=2 M2S_HTTP_PORT=0 M2S_OWNER=service \
  setsid node bin/mlflow2seldon.js sync > "$root/.testbed/logs/demo-sync.log" 2>&1 &
pids+=($!)
service_objects="mlflow2seldon.io/owner=service"
for version in "$a1" "$a2"; do
  mlflow_post registered-models/alias "{\"name\":\"$alias_model\",\"alias\":\"champion\",\"version\":\"$version\"}"
  node demo/kube.js wait "$namespace" "$service_objects" "$version"
  say "champion -> version $version: the service updated $(node demo/kube.js yaml "$namespace" "$service_objects" | grep -m1 '^  name:' | awk '{print $2}') to version $version"
done
kill -TERM -- "-${pids[0]}"
say "sync service stopped (log: .testbed/logs/demo-sync.log)"

if [[ "$target" == seldon-v1 ]]; then
  step 6 "Serve the Production model from the location its SeldonDeployment names"
  say "No kubelet runs here: a local 'mlflow models serve' stands in for the Seldon pod."
  model_path="$(node demo/kube.js model-path "$namespace" "$stack_objects")"
  say "MODEL_PATH=$model_path"
  PATH="$(dirname "$M2S_TESTBED_PYTHON"):$PATH" setsid mlflow models serve -m "$model_path" -h 127.0.0.1 -p "$serve_port" --env-manager local > "$root/.testbed/logs/demo-serve.log" 2>&1 &
  pids+=($!)
  body="$("$M2S_TESTBED_PYTHON" demo/iris.py sample -)"
  for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:$serve_port/ping" > /dev/null 2>&1 && break; sleep 0.2; done
  say "POST /invocations $body"
  say "-> $(curl -fsS -X POST -H 'content-type: application/json' "http://127.0.0.1:$serve_port/invocations" -d "$body")"
else
  step 6 "Serve the Production model from the storage URI its $kind names"
  say "No kubelet runs here: KServe's storage initializer (kserve-storage) fetches the model from the"
  say "object store and MLServer with its MLflow runtime serves it, as local processes."
  storage_uri="$(node demo/kube.js storage-uri "$namespace" "$stack_objects")"
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
  body="$("$M2S_TESTBED_PYTHON" demo/iris.py v2 -)"
  for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$serve_port/v2/models/iris/ready" > /dev/null 2>&1 && break; sleep 0.2; done
  say "POST /v2/models/iris/infer $body"
  reply="$(curl -fsS -X POST -H 'content-type: application/json' "http://127.0.0.1:$serve_port/v2/models/iris/infer" -d "$body")"
  say "-> predictions $(node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]).outputs[0].data))' "$reply")"
fi

step 7 "Done"
say "MLflow:       $MLFLOW_TRACKING_URI (\"$iris_model\" v$v2 in Production, \"$alias_model\"@champion = v$a2)"
say "Cluster:      ${kind}s in namespace $namespace"
say "Pulumi stack: $stack (Pulumi.$stack.yaml; pulumi stack --stack $stack)"
say "Clean up:     make demo-clean   (pulumi destroy + testbed down)"
