#!/usr/bin/env bash
# Builds the control plane used by envtest, the e2e tests and the demo: kube-apiserver and
# kubectl from k8s.io/kubernetes, etcd from go.etcd.io/etcd/server/v3, all through the Go
# module proxy (there are no release downloads on our machines). The binaries are built once
# per version into the user cache directory, as setup-envtest does, so fresh clones and CI
# reuse them, and linked into bin/k8s/<version>/.
#
# usage: hack/control-plane.sh [BIN_DIR]     prints the directory holding the three binaries
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${1:-$ROOT/bin/k8s/$K8S_VERSION}"
CACHE_ROOT="${SFCONN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sfconn}"
# -v2: built with the version stamped in (see build_kube); older caches lack it.
CACHE="$CACHE_ROOT/k8s/$K8S_VERSION-etcd$ETCD_VERSION-v2"

log() { echo "control-plane: $*" >&2; }

build_kube() {
  local work="$1"
  local staging_minor="0.${K8S_VERSION#1.}"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  mkdir -p "$work/kube"
  {
    echo "module sfconn.local/kubetools"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    echo "replace ("
    # Every staging module is replaced in k8s.io/kubernetes' own go.mod by a path in its
    # tree; outside that tree the published v0.X.Y of each module stands in for it.
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod" |
      while read -r mod; do echo "	$mod => $mod v$staging_minor"; done
    echo ")"
  } >"$work/kube/go.mod"
  cat >"$work/kube/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "$work/kube" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true)
  # A plain go build reports v0.0.0-master at /version, which no version constraint admits:
  # helm install refuses a chart with kubeVersion against it. Stamp the version as the
  # Kubernetes release build does, so clients see the cluster a user would run.
  local pkg ldflags="" major="${K8S_VERSION%%.*}" minor
  minor="${K8S_VERSION#*.}" minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$work/kube" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$work/out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
}

build_etcd() {
  local work="$1"
  mkdir -p "$work/etcd"
  cat >"$work/etcd/go.mod" <<GOMOD
module sfconn.local/etcdtools

go 1.26

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
GOMOD
  cat >"$work/etcd/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  (cd "$work/etcd" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true)
  (cd "$work/etcd" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$work/out/etcd" go.etcd.io/etcd/server/v3)
}

if [[ ! -x "$CACHE/kube-apiserver" || ! -x "$CACHE/kubectl" || ! -x "$CACHE/etcd" ]]; then
  log "building kube-apiserver and kubectl v$K8S_VERSION and etcd v$ETCD_VERSION (first time only, several minutes)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/out"
  build_etcd "$work"
  build_kube "$work"
  mkdir -p "$CACHE"
  # Move into place only when all three exist, so an interrupted build is never mistaken
  # for a finished one.
  for b in etcd kube-apiserver kubectl; do mv "$work/out/$b" "$CACHE/$b.tmp"; done
  for b in etcd kube-apiserver kubectl; do mv "$CACHE/$b.tmp" "$CACHE/$b"; done
fi

mkdir -p "$BIN_DIR"
for b in etcd kube-apiserver kubectl; do ln -sf "$CACHE/$b" "$BIN_DIR/$b"; done
echo "$BIN_DIR"
