#!/usr/bin/env bash
# `make demo-clean`: destroys the demo stack and stops the testbed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [[ -f .testbed/env ]] && [[ -f Pulumi.demo.yaml ]]; then
  # shellcheck disable=SC1091
  source .testbed/env
  pulumi destroy --yes --stack demo
  pulumi stack rm --yes --stack demo
fi
testbed/down.sh
