#!/usr/bin/env bash
# Builds heavy third-party binaries from Go modules into a cache folder and prints that folder.
# Each set is a nested module beside this one, built CGO off with -trimpath:
#   kube     hack/kubebin:    etcd and kube (one binary, linked as kube-apiserver,
#                             kube-controller-manager, kube-scheduler, kubelet and kube-proxy)
#   net      hack/netbin:     coredns and kube-router
#   traefik  hack/traefikbin: traefik
#   prom     hack/prombin:    prometheus (tag remove_all_sd: no service-discovery plugins, only
#                             static and file targets, which is all hack/promtest uses)
#   otel     hack/otelbin:    otelcol (a minimal OpenTelemetry Collector: OTLP in, JSON file out)
#   oauth2proxy hack/oauth2proxybin: oauth2-proxy (hack/bench's peer; not in `all`)
# A set's folder, $GATEWARDEN_CACHE/<module>-<key>, is named by a hash of what it is built from
# (the module's go.mod, go.sum and cmd/*/main.go and the set's version; for the sets other than
# kube also the set's build function below), so a warm cache is reused without rebuilding. A lock per set
# makes concurrent calls wait for one another; a build goes to <folder>.tmp and is renamed when
# complete. Cold builds print their time on stderr.
set -o errexit -o nounset -o pipefail

usage() {
  cat <<'USAGE'
usage: hack/kubebin/build.sh [kube|net|traefik|prom|otel|oauth2proxy|all ...]
  One set (default kube): prints the set's folder.
    kube     etcd, kube, and kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
             kube-proxy (links to kube)
    net      coredns, kube-router
    traefik  traefik
    prom     prometheus
    otel     otelcol (OpenTelemetry Collector with the OTLP receiver and the file exporter)
    oauth2proxy  oauth2-proxy (hack/bench's peer; not part of all)
  Several sets or all: builds them in parallel (at most 2 at once) and prints "SET FOLDER" lines.
  GATEWARDEN_CACHE moves the cache (default ${XDG_CACHE_HOME:-~/.cache}/gatewarden).
  Run it under `nice -n 10` on shared machines.
USAGE
}

# build_SET DEST builds the set, from its module folder (the working directory), into DEST.
build_kube() {
  go build -trimpath -o "$1/etcd" ./cmd/etcd >&2 &
  local etcd_pid=$!
  go build -trimpath -ldflags "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36 -X k8s.io/component-base/version.gitTreeState=clean" \
    -o "$1/kube" ./cmd/kube >&2
  wait "$etcd_pid"
  local name
  for name in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    ln -s kube "$1/$name"
  done
}
build_net() {
  go build -trimpath -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=v2.1.0" \
    -o "$1/" ./cmd/coredns github.com/cloudnativelabs/kube-router/v2/cmd/kube-router >&2
}
build_traefik() {
  go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$version" \
    -o "$1/traefik" github.com/traefik/traefik/v3/cmd/traefik >&2
}
build_prom() {
  go build -trimpath -tags remove_all_sd -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version" \
    -o "$1/prometheus" github.com/prometheus/prometheus/cmd/prometheus >&2
}

build_oauth2proxy() {
  go build -trimpath -ldflags "-s -w -X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$version" \
    -o "$1/oauth2-proxy" github.com/oauth2-proxy/oauth2-proxy/v7 >&2
}

build_otel() {
  go build -trimpath -ldflags "-s -w" -o "$1/otelcol" ./cmd/otelcol >&2
}

# build SET prints the set's folder, building it first unless the cache holds it.
build() {
  local module version outputs
  case "$1" in
    kube) module=kubebin version=v1.36.3 outputs="etcd kube" ;;
    net) module=netbin version="coredns v1.15.0 kube-router v2.1.0" outputs="coredns kube-router" ;;
    traefik) module=traefikbin version=v3.6.12 outputs="traefik" ;;
    prom) module=prombin version=v0.316.0 outputs="prometheus" ;;
    oauth2proxy) module=oauth2proxybin version=v7.15.6 outputs="oauth2-proxy" ;;
    otel) module=otelbin version=v0.161.0 outputs="otelcol" ;;
    *) usage >&2; return 2 ;;
  esac
  cd "$hack/$module"
  local mains key
  mains=$(shopt -s nullglob; echo cmd/*/main.go)
  # The kube key has no build function in it: its folders predate the other sets.
  # shellcheck disable=SC2086 # mains is a list of paths without spaces
  key=$( { cat go.mod go.sum $mains; echo "$version"; [ "$1" = kube ] || declare -f "build_$1"; } | sha256sum | cut -c1-16)
  local out="$cache/$module-$key"
  exec 9>"$cache/$module.lock"
  flock 9
  local name complete=1
  for name in $outputs; do
    [ -x "$out/$name" ] || complete=0
  done
  if [ "$complete" = 1 ]; then
    echo "$out"; return 0
  fi
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  local start
  start=$(date +%s)
  "build_$1" "$out.tmp"
  echo "built $1 ($outputs) in $(( $(date +%s) - start ))s" >&2
  rm -rf "$out"; mv "$out.tmp" "$out"
  echo "$out"
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
hack=$(cd "$(dirname "$0")/.." && pwd)
cache="${GATEWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatewarden}"
mkdir -p "$cache"
export CGO_ENABLED=0

sets=("$@")
[ "${#sets[@]}" -gt 0 ] || sets=(kube)
[ "${sets[*]}" != all ] || sets=(kube traefik prom otel net) # longest first
if [ "${#sets[@]}" = 1 ]; then
  build "${sets[0]}"
  exit 0
fi
# Several sets: fill the cache two at a time, then print each folder (now a cache hit).
printf '%s\n' "${sets[@]}" | xargs -P 2 -n 1 "$0" >/dev/null
for set in "${sets[@]}"; do
  echo "$set $("$0" "$set")"
done
