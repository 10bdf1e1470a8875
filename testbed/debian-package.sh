#!/usr/bin/env bash
# Prints the path of a command from Debian's packages, installing the package with apt-get when
# the command is missing:
#   testbed/debian-package.sh chromium          (the status page's browser tests)
#   testbed/debian-package.sh rclone            (stands for Seldon's rclone storage initializer image)
set -euo pipefail
package="$1" command="${2:-$1}"
if ! command -v "$command" > /dev/null; then
  echo "[testbed] installing Debian's $package package" >&2
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends "$package" > /dev/null 2>&1 ||
    { $sudo apt-get update > /dev/null && $sudo apt-get install -y --no-install-recommends "$package" > /dev/null; }
fi
command -v "$command"
