#!/usr/bin/env bash
# Before `make deploy`: selects (or creates) the stack and makes sure the required settings are
# there. In a terminal it asks for a missing MLflow URL or cluster context, like the original
# `make helm_deploy`; without one it fails naming the setting and the command that sets it.
#   deploy/require-settings.sh STACK
set -euo pipefail
stack="${1:?usage: require-settings.sh STACK}"
pulumi stack select --create "$stack" --non-interactive > /dev/null

current_context() {
  node -e '
    const k8s = require("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    try { kc.loadFromDefault(); } catch { process.exit(0); }
    process.stdout.write(kc.getCurrentContext() || "");'
}

require_setting() {
  local key="$1" prompt="$2" example="$3" default="${4:-}"
  if pulumi config get --stack "$stack" "mlflow2seldon:$key" > /dev/null 2>&1; then return; fi
  if [[ -t 0 ]]; then
    local value
    read -r -p "$prompt${default:+ [$default]}: " value
    value="${value:-$default}"
    [[ -n "$value" ]] || { echo "mlflow2seldon:$key is required" >&2; exit 2; }
    pulumi config set --stack "$stack" "mlflow2seldon:$key" "$value"
  else
    echo "error: mlflow2seldon:$key is not set for stack $stack." >&2
    echo "       set it with: pulumi config set --stack $stack mlflow2seldon:$key $example" >&2
    echo "       (or run make deploy in a terminal to be asked)" >&2
    exit 2
  fi
}

require_setting mlflowUrl "MLflow tracking server URL" "http://mlflow.mlflow.svc:5000"
require_setting kubeContext "Kubernetes context to deploy to" "my-cluster-context" "$(current_context)"
