#!/usr/bin/env bash
# Runs every gatewarden test: the root module with the race detector, then each nested module
# under hack/ (end-to-end suites through real proxies and a real browser, chart and cluster tests).
# On a fresh Debian machine, run as root, it first installs what the tests need with apt.
set -o errexit -o nounset -o pipefail

usage() {
  cat <<'USAGE'
usage: hack/test.sh [-h]
Runs go vet and go test -race for the root module, then go test for every nested module under
hack/ (among them hack/cluster: a real single-node Kubernetes cluster, run as root on Linux).
Installs what the tests need with apt when it is missing and the script runs as root (redis-server,
nginx, caddy, chromium, postgresql; containerd, runc, CNI plugins, iptables, ipset, conntrack,
busybox-static for the cluster). Set SKIP_NESTED=1 to run only the root module.
USAGE
}
[ "${1:-}" = "-h" ] && { usage; exit 0; }

cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v caddy >/dev/null || need+=(caddy)
command -v chromium >/dev/null || need+=(chromium)
# PostgreSQL server binaries (initdb, postgres): the services' store tests start their own server.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null || need+=(postgresql)
command -v gcc >/dev/null || need+=(gcc libc6-dev) # cgo: hack/idps builds dex, which links SQLite
# The single-node cluster (hack/cluster).
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || [ -x /usr/sbin/iptables ] || need+=(iptables)
command -v ipset >/dev/null || [ -x /usr/sbin/ipset ] || need+=(ipset)
command -v conntrack >/dev/null || [ -x /usr/sbin/conntrack ] || need+=(conntrack)
command -v busybox >/dev/null || need+=(busybox-static)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]} with apt"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing ${need[*]}: install them (Debian: apt-get install ${need[*]}); tests that need them will skip outside CI" >&2
  fi
fi

status=0
echo "== go vet ./..."
go vet ./...
echo "== go test -race ./... (root module)"
go test -race -count=1 -timeout 20m ./... || status=1

if [ "${SKIP_NESTED:-0}" != 1 ]; then
  # Kubernetes (etcd, kube-apiserver, ... kubelet), CoreDNS, kube-router and Traefik for
  # hack/charttest and hack/cluster, Prometheus for hack/promtest, the OpenTelemetry Collector for
  # hack/tracetest: built once (minutes when cold) and cached under ~/.cache/gatewarden, outside
  # any test timeout.
  echo "== hack/kubebin/build.sh all"
  start=$(date +%s)
  hack/kubebin/build.sh all
  echo "third-party builds (Kubernetes, CoreDNS, kube-router, Traefik, Prometheus, OpenTelemetry Collector): $(( $(date +%s) - start ))s"
  CHARTTEST_KUBEBIN=$(hack/kubebin/build.sh kube)
  PROMTEST_PROMETHEUS=$(hack/kubebin/build.sh prom)/prometheus
  export CHARTTEST_KUBEBIN PROMTEST_PROMETHEUS
  for mod in hack/*/go.mod; do
    [ -e "$mod" ] || continue
    dir=$(dirname "$mod")
    # Modules that only build tools (hack/kubebin) have no tests of their own.
    [ -n "$(find "$dir" -name '*_test.go' -print -quit)" ] || continue
    echo "== go test ./... ($dir)"
    (cd "$dir" && go test -count=1 -timeout 25m ./...) || status=1
  done
  # The cluster suite ran above with authproxy's own Deployment (the chart's default); once more
  # with authproxy as a sidecar in Traefik's pods.
  echo "== go test ./e2e/ (hack/cluster, GATEWARDEN_CLUSTER_MODE=sidecar)"
  (cd hack/cluster && GATEWARDEN_CLUSTER_MODE=sidecar go test -count=1 -timeout 25m ./e2e/) || status=1
fi

for f in hack/cluster/artifacts/cluster-times-*.txt; do
  [ -e "$f" ] && { echo "== $f"; cat "$f"; }
done

shots="${E2E_SCREENSHOT_DIR:-hack/stack/artifacts/screenshots}"
if [ -d "$shots" ]; then
  echo "== screenshots kept in $shots"
  ls -l "$shots"
  [ -f "$shots/index.txt" ] && cat "$shots/index.txt"
fi
exit "$status"
