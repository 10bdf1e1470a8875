#!/usr/bin/env bash
# `make demo-clean`: destroys the demo stack and stops the testbed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$root/.testbed/demo-project"
if [[ -f .testbed/env && -d "$work" ]]; then
  # shellcheck disable=SC1091
  source .testbed/env
  node dist/deploy/cli.js destroy --stack demo --work-dir "$work"
fi
rm -rf "$work"
testbed/down.sh
