#!/usr/bin/env bash
# Builds etcd and kube-apiserver into a cache folder and prints that folder. A warm cache (same
# go.mod/go.sum/sources) is reused without rebuilding.
set -o errexit -o nounset -o pipefail
[ "${1:-}" = "-h" ] && { echo "usage: hack/kubebin/build.sh   (prints the folder holding etcd and kube-apiserver)"; exit 0; }
cd "$(dirname "$0")"
version=v1.36.3
key=$(cat go.mod go.sum cmd/*/main.go build.sh | sha256sum | cut -c1-16)
out="${GATEWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatewarden}/kubebin-$key"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ]; then
  echo "$out"; exit 0
fi
mkdir -p "$out.tmp"
go build -trimpath -o "$out.tmp/etcd" ./cmd/etcd >&2
go build -trimpath -ldflags "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36 -X k8s.io/component-base/version.gitTreeState=clean" \
  -o "$out.tmp/kube-apiserver" ./cmd/kube-apiserver >&2
rm -rf "$out"; mv "$out.tmp" "$out"
echo "$out"
