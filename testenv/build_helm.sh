#!/usr/bin/env bash
# Builds the helm CLI that the chart tests render with and the rollback benchmark compares against,
# from the Go module proxy at a pinned version, and prints the binary's path. Built once, then found
# in the cache; nothing of it lives in the work tree. `testenv/cluster build` and `up` run it, and
# `up` names the binary in DIR/env as MINICD_TEST_HELM.
#
#   testenv/build_helm.sh            # prints e.g. ~/.cache/minicd-testenv/helm-v4.3.2-<key>/helm
#
# Environment knobs:
#   MINICD_TESTENV_HELM_VERSION  module version of helm.sh/helm/v4 (default v4.3.2; the module needs Go >= 1.26.0)
#   MINICD_TESTENV_BUILD_JOBS    parallel compile jobs, go build -p (default: the number of cores)
#   MINICD_TESTENV_CACHE         cache root shared with the control plane (default ~/.cache/minicd-testenv)
#
# The build is the one helm's own Makefile makes for a release tag (CGO off, -trimpath, the version
# stamped with -X), from `go install helm.sh/helm/v4/cmd/helm@VERSION`: the module's own go.sum pins
# every dependency, so no go.mod of ours is involved. The cache key covers the version, the Go version,
# the architecture and the link flags, as testenv's control-plane cache does.
set -euo pipefail

helm_version=${MINICD_TESTENV_HELM_VERSION:-v4.3.2}
jobs=${MINICD_TESTENV_BUILD_JOBS:-$(nproc)}

log() { printf 'testenv: %s\n' "$*" >&2; }

command -v go >/dev/null 2>&1 || { log "go is required to build helm (see scripts/install-deps)"; exit 1; }

ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=${helm_version}"
ldflags+=" -X helm.sh/helm/v4/internal/version.metadata= -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
key=$( (echo "helm.sh/helm/v4/cmd/helm@${helm_version}"; go env GOVERSION GOARCH; echo "$ldflags") | sha256sum | cut -c1-12)
cache="${MINICD_TESTENV_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/minicd-testenv}"
binary="${cache}/helm-${helm_version}-${key}/helm"
if [[ -x "$binary" ]]; then
    printf '%s\n' "$binary"
    exit 0
fi

dir=${binary%/*}
mkdir -p "$dir"
log_file="${dir}/build.log"
tmp=$(mktemp -d "${dir}/gobin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "building helm ${helm_version} from the Go module proxy (first run only; minutes on 2 cores), log: ${log_file}"
started=$SECONDS
# Outside any module, so `go install pkg@version` uses helm's go.mod and go.sum alone.
if ! (cd "$tmp" && CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-buildvcs=false exec go install -v -p "$jobs" -trimpath \
    -ldflags="$ldflags" "helm.sh/helm/v4/cmd/helm@${helm_version}") >"$log_file" 2>&1; then
    log "helm build failed, see ${log_file}: $(tail -n 3 "$log_file")"
    exit 1
fi
mv -f "${tmp}/helm" "$binary"
log "helm ${helm_version} built in $((SECONDS - started))s: ${binary}"
printf '%s\n' "$binary"
