#!/usr/bin/env bash
# Creates the Python virtual environment of a lock file (default testbed/requirements.txt: MLflow
# server and client, scikit-learn for real test models, boto3 for S3 artifacts; every package
# pinned, since newer releases of MLflow's dependencies break older MLflow), cached outside the
# repository by the lock's name and hash: requirements-X.txt is venv-X-<hash>, except the MLflow
# servers' locks (venv-mlflow-<version>-<hash>).
#   testbed/python-env.sh [LOCK]      prints the venv path on stdout
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${M2S_CACHE_DIR:-$HOME/.cache/mlflow2seldon}"
lock="${1:-$here/requirements.txt}"
label="$(basename "$lock" .txt)"
label="${label#requirements}"
label="${label#-}"
[[ -z "$label" || "$label" == mlflow[23] ]] && label="mlflow-$(sed -n 's/^mlflow==//p' "$lock")"
venv="$cache/venv-$label-$(sha256sum "$lock" | cut -c1-12)"
mkdir -p "$cache"
exec 9> "$cache/python.lock"
flock 9
# The stamp is written last, so an interrupted install is redone rather than half-used.
if [[ ! -f "$venv/.complete" ]]; then
  echo "[python] creating $venv (a few minutes cold)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --progress-bar off -r "$lock" >&2
  touch "$venv/.complete"
fi
echo "$venv"
