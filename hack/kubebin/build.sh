#!/usr/bin/env bash
# Builds etcd and kube-apiserver into a cache folder and prints that folder. The folder is named
# by a hash of what the binaries are built from (go.mod, go.sum, the mains, the version), so a
# warm cache is reused without rebuilding. Concurrent calls wait for one another.
set -o errexit -o nounset -o pipefail
[ "${1:-}" = "-h" ] && { echo "usage: hack/kubebin/build.sh   (prints the folder holding etcd and kube-apiserver; GATEWARDEN_CACHE moves the cache)"; exit 0; }
cd "$(dirname "$0")"
version=v1.36.3
key=$( { cat go.mod go.sum cmd/*/main.go; echo "$version"; } | sha256sum | cut -c1-16)
cache="${GATEWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatewarden}"
out="$cache/kubebin-$key"
mkdir -p "$cache"
exec 9>"$cache/kubebin.lock"
flock 9
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ]; then
  echo "$out"; exit 0
fi
rm -rf "$out.tmp"; mkdir -p "$out.tmp"
start=$(date +%s)
go build -trimpath -o "$out.tmp/etcd" ./cmd/etcd >&2
go build -trimpath -ldflags "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36 -X k8s.io/component-base/version.gitTreeState=clean" \
  -o "$out.tmp/kube-apiserver" ./cmd/kube-apiserver >&2
echo "built etcd and kube-apiserver in $(( $(date +%s) - start ))s" >&2
rm -rf "$out"; mv "$out.tmp" "$out"
echo "$out"
