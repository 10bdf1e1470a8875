#!/usr/bin/env bash
# Makes the base image the Dockerfile's FROM names (node:24-bookworm-slim) on a machine that
# reaches no container registry: Debian bookworm's minimal root filesystem from Debian's packages
# (mmdebstrap --variant=minbase), with Node.js 24 from the PyPI wheel the project already uses,
# laid out as the official image lays it out (/usr/local/bin/node, npm and npx under
# /usr/local/lib/node_modules), imported into podman under the FROM's name. The root filesystem is
# cached by its inputs' versions; a machine with registry access skips this (podman pulls the base).
#   testbed/base-image.sh     prints the image's name once it exists
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
cache="${M2S_CACHE_DIR:-$HOME/.cache/mlflow2seldon}"
say() { printf '[image] %s\n' "$*" >&2; }

base="$(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$root/Dockerfile" | sort -u)"
[[ "$(wc -l <<< "$base")" == 1 ]] || { say "the Dockerfile names more than one base: $base"; exit 1; }
"$here/debian-package.sh" podman > /dev/null
"$here/debian-package.sh" runc > /dev/null
if podman image exists "$base"; then
  echo "$base"
  exit 0
fi

node_home="$("$here/node.sh" --home)"
node_version="$("$node_home/bin/node" --version)"
suite=bookworm
tarball="$cache/images/$suite-minbase-node-$node_version.tar"
if [[ ! -f "$tarball" ]]; then
  "$here/debian-package.sh" mmdebstrap > /dev/null
  mkdir -p "$cache/images"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # Node.js as the official image has it under /usr/local.
  mkdir -p "$work/usr-local/bin" "$work/usr-local/lib" "$work/usr-local/include"
  cp "$node_home/bin/node" "$work/usr-local/bin/node"
  cp -a "$node_home/lib/node_modules" "$work/usr-local/lib/node_modules"
  cp -a "$node_home/include/node" "$work/usr-local/include/node"
  # The wheel keeps no file modes: npm's entry points are made executable as npm's own package has them.
  chmod +x "$work/usr-local/lib/node_modules/npm/bin/"{npm,npx}-cli.js
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/usr-local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/usr-local/bin/npx"
  # The mirror this machine's apt uses (mmdebstrap's default otherwise).
  mirror=()
  uri="$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2> /dev/null | head -1)"
  [[ -z "$uri" ]] || mirror=("$uri")
  say "building Debian $suite (minbase) with Node.js $node_version into $tarball (a few minutes, once)"
  mmdebstrap --quiet --variant=minbase --mode=root \
    --customize-hook="sync-in $work/usr-local /usr/local" \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$suite" "$work/rootfs.tar" "${mirror[@]}" >&2
  mv "$work/rootfs.tar" "$tarball"
fi
say "importing $tarball as $base"
podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  "$tarball" "$base" > /dev/null
echo "$base"
