#!/usr/bin/env bash
# `make demo-clean`: destroys the demo stacks (one per target run) and stops the testbed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
shopt -s nullglob
stacks=(Pulumi.demo*.yaml)
if [[ -f .testbed/env && ${#stacks[@]} -gt 0 ]]; then
  # shellcheck disable=SC1091
  source .testbed/env
  for file in "${stacks[@]}"; do
    stack="${file#Pulumi.}"
    stack="${stack%.yaml}"
    pulumi destroy --yes --stack "$stack"
    pulumi stack rm --yes --stack "$stack"
  done
fi
testbed/down.sh
