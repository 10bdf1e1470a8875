# Pinned versions of every testbed component. Sourced by the testbed scripts; a change here
# rebuilds only the binaries whose version changed (the cache is keyed by name and version).
ETCD_VERSION=v3.6.16
KUBERNETES_VERSION=v1.36.3
PULUMI_VERSION=v3.274.1
# The Node.js language host: vendored source of pulumi v3.259.0, built against the CLI's pkg/sdk.
PULUMI_LANGUAGE_NODEJS_VERSION=v3.259.0-sdk$PULUMI_VERSION
# The Kubernetes provider has no provider/v4.* tags: a pseudo-version of the pulumi-kubernetes repository.
PULUMI_KUBERNETES_PROVIDER_VERSION=v4.0.0-20260115033456-f47bc2d6f199
# MLflow servers and their dependencies are pinned in testbed/requirements*.txt.
# The version the provider binary reports; the @pulumi/kubernetes npm package pinned in package.json.
PULUMI_KUBERNETES_PLUGIN_VERSION=4.24.1
# Serving controllers, built from the vendored sources in ../shared/vendor (SOURCE.md there).
KSERVE_VERSION=v0.20.0
SELDON_CORE_VERSION=v1.17.1
