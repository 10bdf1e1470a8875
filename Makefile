# mlflow2seldon — common tasks. The testbed (MLflow + kube-apiserver + Pulumi CLI on loopback)
# is the embedded default target: `make demo` needs nothing but this repository.
SHELL := /bin/bash
STACK ?= dev
TESTBED_ENV := .testbed/env
# Use the testbed's environment when it is up, unless the caller points elsewhere.
WITH_ENV = if [[ -f $(TESTBED_ENV) && -z "$$M2S_NO_TESTBED" ]]; then source $(TESTBED_ENV); fi;

.PHONY: install build test lint testbed-up testbed-down deploy preview preview-policy destroy refresh \
        helm_deploy helm_delete demo demo-clean sync bench

node_modules/.package-lock.json: package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
install: node_modules/.package-lock.json

build: install
	npx tsc -p tsconfig.json

# Unit and integration tests (the testbed comes up if it is not running); ends with a plain
# "N passed, N failed" line.
test: install
	@mkdir -p .testbed; status=0; npx jest --json --outputFile=.testbed/jest-report.json || status=$$?; \
	node test/support/summary.js .testbed/jest-report.json; exit $$status

lint: install
	npm run lint

testbed-up: install
	testbed/up.sh

testbed-down:
	testbed/down.sh

# Pulumi: deploy the sync service and snapshot the registry into SeldonDeployments.
deploy: build
	@$(WITH_ENV) deploy/require-settings.sh $(STACK) && node dist/deploy/cli.js up --stack $(STACK)
preview: build
	@$(WITH_ENV) node dist/deploy/cli.js preview --stack $(STACK)
# Needs the Node.js language host (a full Pulumi install): the CLI runs policy packs through it.
preview-policy: build
	@$(WITH_ENV) node dist/deploy/cli.js preview --stack $(STACK) --policy-pack policy
destroy: build
	@$(WITH_ENV) node dist/deploy/cli.js destroy --stack $(STACK)
refresh: build
	@$(WITH_ENV) node dist/deploy/cli.js refresh --stack $(STACK)
# Names kept for users of the original Helm chart.
helm_deploy: deploy
helm_delete: destroy

# The continuous sync service from this checkout (M2S_* settings from the environment).
sync: build
	@$(WITH_ENV) node bin/mlflow2seldon.js sync

demo: install
	demo/run.sh
demo-clean:
	demo/clean.sh

bench: build testbed-up
	node dist/bench/run.js
