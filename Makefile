# mlflow2seldon — common tasks. The testbed (MLflow + kube-apiserver + Pulumi CLI on loopback)
# is the embedded default target: `make demo` needs nothing but this repository.
SHELL := /bin/bash
STACK ?= dev
# Serving target of `make demo`: seldon-v1, kserve or seldon-v2.
TARGET ?= seldon-v1
TESTBED_ENV := .testbed/env
# Node.js >= 22.19 first on PATH: the machine's, or Node.js 24 installed into the cache.
NODE_BIN := $(shell testbed/node.sh)
export PATH := $(if $(NODE_BIN),$(NODE_BIN):)$(PATH)
# Use the testbed's environment when it is up, unless the caller points elsewhere.
WITH_ENV = if [[ -f $(TESTBED_ENV) && -z "$$M2S_NO_TESTBED" ]]; then source $(TESTBED_ENV); fi;

.PHONY: install build test lint testbed-up testbed-down deploy preview preview-policy destroy refresh \
        helm_deploy helm_delete demo demo-clean sync bench image

node_modules/.package-lock.json: package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
install: node_modules/.package-lock.json

build: install
	npx tsc -p tsconfig.json

# Unit and integration tests (the testbed comes up if it is not running); ends with a plain
# "N passed, N failed" line.
test: install
	@mkdir -p .testbed; rm -f .testbed/jest-report.json .testbed/left-behind.txt; status=0; \
	npx jest --json --outputFile=.testbed/jest-report.json || status=$$?; \
	node test/support/summary.js .testbed/jest-report.json $$status

lint: install
	npm run lint

testbed-up: install
	testbed/up.sh

testbed-down:
	testbed/down.sh

# Pulumi: thin wrappers of the plain CLI on the stack STACK (selected, or created, first).
# Pulumi's Node.js runtime runs the TypeScript program (index.ts) itself: no build step.
SELECT_STACK = pulumi stack select --create $(STACK) > /dev/null
# Given kubeconfig content (stack config `kubeconfig`), the Kubernetes plugin copies it into
# $TMPDIR for its Helm support and never removes the copy, which holds the credentials: Pulumi
# gets a private TMPDIR, removed when the command ends.
PRIVATE_TMPDIR = TMPDIR=$$(mktemp -d) && trap 'rm -rf "$$TMPDIR"' EXIT && export TMPDIR;
deploy: install
	@$(WITH_ENV) $(PRIVATE_TMPDIR) deploy/require-settings.sh $(STACK) && pulumi up --yes --stack $(STACK)
preview: install
	@$(WITH_ENV) $(PRIVATE_TMPDIR) $(SELECT_STACK) && pulumi preview --diff --stack $(STACK)
preview-policy: install
	@$(WITH_ENV) $(PRIVATE_TMPDIR) $(SELECT_STACK) && pulumi preview --diff --stack $(STACK) --policy-pack policy
destroy: install
	@$(WITH_ENV) $(PRIVATE_TMPDIR) $(SELECT_STACK) && pulumi destroy --yes --stack $(STACK)
refresh: install
	@$(WITH_ENV) $(PRIVATE_TMPDIR) $(SELECT_STACK) && pulumi refresh --yes --stack $(STACK)
# Names kept for users of the original Helm chart.
helm_deploy: deploy
helm_delete: destroy

# The service image from the Dockerfile, with podman (its base is made from Debian's packages
# when no registry can be reached: testbed/base-image.sh).
IMAGE ?= mlflow2seldon:0.1.0
image:
	@testbed/build-image.sh $(IMAGE)

# The continuous sync service from this checkout (M2S_* settings from the environment).
sync: build
	@$(WITH_ENV) node bin/mlflow2seldon.js sync

demo: install
	TARGET=$(TARGET) MLFLOW=$(MLFLOW) demo/run.sh
demo-clean:
	demo/clean.sh

bench: build testbed-up image
	node dist/bench/run.js
