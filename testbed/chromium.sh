#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the tests that load the service's status page
# in a browser: Debian's `chromium` package, installed with apt-get when it is missing.
set -euo pipefail
if ! command -v chromium > /dev/null; then
  echo "[chromium] installing Debian's chromium package" >&2
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends chromium > /dev/null 2>&1 ||
    { $sudo apt-get update > /dev/null && $sudo apt-get install -y --no-install-recommends chromium > /dev/null; }
fi
command -v chromium
