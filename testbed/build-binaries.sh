#!/usr/bin/env bash
# Builds the testbed's Go binaries (etcd, kube-apiserver, kube-controller-manager, the pulumi
# CLI, its Node.js language host and the Kubernetes resource plugin) from the Go module proxy into a cache outside the repository,
# keyed by name and version: only the first run on a machine compiles anything.
#   testbed/build-binaries.sh [name ...]     (default: all)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=testbed/versions.sh
source "$here/versions.sh"
cache="${M2S_CACHE_DIR:-$HOME/.cache/mlflow2seldon}"
bin="$cache/bin"
work="$cache/build"
vendor="$here/../../shared/vendor"
mkdir -p "$bin" "$work"
# One build at a time per cache (tests and a person may start the testbed together).
exec 9> "$cache/build.lock"
flock 9
export GOFLAGS=-buildvcs=false CGO_ENABLED=0

log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Prints the non-local `replace` lines of a downloaded module's go.mod (local ones point into
# the upstream monorepo and do not exist in the module cache).
remote_replaces() {
  local gomod
  gomod="$(go mod download -json "$1" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  grep -E '^replace .* => [^.]' "$gomod" || true
}

# Runs a build function only when the cached binary is missing; builds into a temporary name
# and renames, so an interrupted build never leaves a half-written binary in the cache.
cached() {
  local name="$1" version="$2" fn="$3" out="$bin/$1-$2"
  if [[ -x "$out" ]]; then log "$name $version: cached"; return; fi
  log "$name $version: building (cold builds take several minutes)"
  local started=$SECONDS
  "$fn" "$version" "$out.partial"
  mv "$out.partial" "$out"
  log "$name $version: built in $((SECONDS - started))s"
}

build_etcd() {
  local dir="$work/etcd-$1"; rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod init m2s.local/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$1" >/dev/null
  go mod tidy >/dev/null
  go build -trimpath -ldflags "-s -w" -o "$2" .
}

build_kube_apiserver() { build_kubernetes_command kube-apiserver "$@"; }
# The namespace and garbage-collector controllers, so deleted namespaces really go away.
build_kube_controller_manager() { build_kubernetes_command kube-controller-manager "$@"; }

build_kubernetes_command() {
  local command="$1" version="$2" out="$3"
  local dir="$work/$command-$version" minor patch; rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
  IFS=. read -r _ minor patch <<<"${version#v}"
  go mod init "m2s.local/$command" >/dev/null 2>&1
  # k8s.io/kubernetes requires its staging modules at v0.0.0 with local replaces: point each one
  # at its published v0.<minor>.<patch> twin.
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  grep -oE '^\s*k8s.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | while read -r m; do
    echo "replace $m => $m v0.$minor.$patch" >> go.mod
  done
  go get "k8s.io/kubernetes/cmd/$command@$version" >/dev/null
  local pkg=k8s.io/component-base/version
  go build -trimpath -ldflags "-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
    -o "$out" "k8s.io/kubernetes/cmd/$command"
}

build_pulumi() {
  local dir="$work/pulumi-$1"; rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
  go mod init m2s.local/pulumi >/dev/null 2>&1
  # The CLI lives in pkg/v3 and needs sdk/v3 at the same version; Go ignores a dependency's
  # replace lines, so repeat the non-local ones of both go.mod files.
  {
    remote_replaces "github.com/pulumi/pulumi/pkg/v3@$1"
    remote_replaces "github.com/pulumi/pulumi/sdk/v3@$1"
  } | sort -u >> go.mod
  go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$1" "github.com/pulumi/pulumi/sdk/v3@$1" >/dev/null
  go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$1" \
    -o "$2" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_pulumi_resource_kubernetes() {
  local dir="$work/pulumi-resource-kubernetes-$1" src; rm -rf "$dir"; mkdir -p "$dir"
  src="$(go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  cp -r "$src/." "$dir"; chmod -R u+w "$dir"; cd "$dir"
  # The provider's go.mod points the SDK at the monorepo's ../sdk; use the published module instead.
  sed -i '/=> \.\.\/sdk/d' go.mod
  go mod tidy >/dev/null
  (cd cmd/pulumi-resource-kubernetes && VERSION="$PULUMI_KUBERNETES_PLUGIN_VERSION" go generate ./...)
  go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_PLUGIN_VERSION" \
    -o "$2" ./cmd/pulumi-resource-kubernetes
}

# Builds a Go command from a vendored source folder (the module proxy refuses these module paths;
# SOURCE.md in each folder says where the source comes from). Go writes into the folder it builds
# in, and the vendored folder may be read-only: build from a copy.
build_vendored() {
  local src="$1" package="$2" dir="$3" out="$4" ldflags="${5:-}"
  [[ -f "$src/go.mod" ]] || { echo "vendored source not found: $src" >&2; exit 1; }
  rm -rf "$dir"; cp -r "$src" "$dir"; chmod -R u+w "$dir"; cd "$dir"
  go build -trimpath -ldflags "-s -w $ldflags" -o "$out" "$package"
}

# KServe's controller manager (InferenceService reconciler, its webhooks, the pod mutator).
build_kserve_manager() {
  build_vendored "${M2S_KSERVE_SOURCE:-$vendor/kserve}" ./cmd/manager "$work/kserve-$1" "$2"
}

# Seldon Core's v1 operator (SeldonDeployment reconciler and webhooks).
build_seldon_manager() {
  build_vendored "${M2S_SELDON_SOURCE:-$vendor/seldon-core-operator}" . "$work/seldon-operator-$1" "$2"
}

# The Node.js language host (runs Node.js programs and policy packs for the CLI), built against
# the CLI's SDK version.
build_pulumi_language_nodejs() {
  local src="${M2S_LANGUAGE_HOST_SOURCE:-$vendor/pulumi-language-nodejs}"
  grep -q "github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION" "$src/go.mod" 2>/dev/null ||
    { echo "$src/go.mod does not require sdk/v3 $PULUMI_VERSION (PULUMI_VERSION in testbed/versions.sh; M2S_LANGUAGE_HOST_SOURCE)" >&2; exit 1; }
  build_vendored "$src" . "$work/pulumi-language-nodejs-$1" "$2" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd kube-apiserver kube-controller-manager pulumi pulumi-language-nodejs pulumi-resource-kubernetes kserve-manager seldon-manager)
for t in "${targets[@]}"; do
  case "$t" in
    etcd) cached etcd "$ETCD_VERSION" build_etcd ;;
    kube-apiserver) cached kube-apiserver "$KUBERNETES_VERSION" build_kube_apiserver ;;
    kube-controller-manager) cached kube-controller-manager "$KUBERNETES_VERSION" build_kube_controller_manager ;;
    pulumi) cached pulumi "$PULUMI_VERSION" build_pulumi ;;
    pulumi-language-nodejs) cached pulumi-language-nodejs "$PULUMI_LANGUAGE_NODEJS_VERSION" build_pulumi_language_nodejs ;;
    pulumi-resource-kubernetes) cached pulumi-resource-kubernetes "$PULUMI_KUBERNETES_PROVIDER_VERSION" build_pulumi_resource_kubernetes ;;
    kserve-manager) cached kserve-manager "$KSERVE_VERSION" build_kserve_manager ;;
    seldon-manager) cached seldon-manager "$SELDON_CORE_VERSION" build_seldon_manager ;;
    *) echo "unknown binary: $t" >&2; exit 2 ;;
  esac
done
