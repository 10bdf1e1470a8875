#!/usr/bin/env bash
# `make image`: builds the service image from the Dockerfile with podman, as written, offline
# from any container registry: the base the FROM names is made here first when podman does not
# have it (testbed/base-image.sh). npm's registry is reached from the build; behind a
# TLS-intercepting proxy whose CA this machine trusts through NODE_EXTRA_CA_CERTS, that file is
# mounted into the build's RUN steps (never into the image). Prints the image's size and layers.
#   testbed/build-image.sh [IMAGE]      (default mlflow2seldon:0.1.0)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
image="${1:-mlflow2seldon:0.1.0}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"

"$here/base-image.sh" > /dev/null
ca=()
if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "$NODE_EXTRA_CA_CERTS" ]]; then
  ca=(--volume "$NODE_EXTRA_CA_CERTS:$NODE_EXTRA_CA_CERTS:ro" --build-arg "NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS")
fi
mkdir -p "$root/.testbed/logs"
log="$root/.testbed/logs/image-build.log"
echo "[image] podman build --tag $image (log: $log)" >&2
podman build --network host "${ca[@]}" --tag "$image" "$root" > "$log" 2>&1 ||
  { tail -40 "$log" >&2; exit 1; }
podman image inspect "$image" --format '{{.Size}}' |
  awk -v image="$image" '{ printf "[image] %s: %.0f MB\n", image, $1 / 1e6 }' >&2
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$image" | cut -c1-110 >&2
