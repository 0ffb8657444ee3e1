#!/usr/bin/env bash
# End-to-end test of gatewarden on kind: creates the cluster, builds and loads the three images,
# installs the ingress controller, PostgreSQL + FusionAuth (kickstarted), and the chart with a real
# signing key and two authproxy replicas, then runs hack/cluster's end-to-end suite attached to it
# (the same code CI runs on its own single-node cluster): the request flows through the cluster's
# ingress (http://localhost), a browser login, and NetworkPolicy probes from pods.
#
# Needs: a container engine for kind (Docker, Podman or nerdctl), docker (image builds), go,
# kubectl, helm, curl, openssl. Host ports 80 and 443 on 127.0.0.1 must be free.
set -o errexit -o nounset -o pipefail

usage() {
  cat <<'EOF'
usage: hack/e2e-kind.sh [-h] [--ingress traefik|gatewayAPI] [--keep] [--skip-build]

  --ingress MODE   ingress wiring to test (default: traefik)
  --keep           keep the cluster afterwards (default: delete it when the checks passed)
  --skip-build     do not rebuild the images (reuse gatewarden/*:e2e)
  -h               this help

Chart versions: the pins in k8s/charts.yaml (the Tiltfile installs the same). TRAEFIK_CHART_VERSION,
FUSIONAUTH_CHART_VERSION and ENVOY_GATEWAY_VERSION override them.
EOF
}

INGRESS=traefik
KEEP=false
BUILD=true
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --ingress) INGRESS="${2:?--ingress needs a value}"; shift 2 ;;
    --keep) KEEP=true; shift ;;
    --skip-build) BUILD=false; shift ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$INGRESS" in traefik|gatewayAPI) ;; *) echo "--ingress must be traefik or gatewayAPI" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CLUSTER=gatewarden
CTX="kind-$CLUSTER"
NS=gatewarden
TAG=e2e
GATEWAY=http://localhost
FA_LOCAL=http://127.0.0.1:9011
# From k8s/fusionauth/kickstart.json (development values).
FA_API_KEY=gatewarden-dev-api-key-0b7f3c1e9d2a4f6b8c0d1e2f3a4b5c6d
CLIENT_ID=e9fdb985-9173-4e01-9d73-ac2d60d1dc8e
# pin NAME: the exact chart version k8s/charts.yaml gives the third-party chart NAME.
pin() {
  local v
  v="$(awk -v key="$1:" '$0 == key { inside = 1; next } /^[^ #]/ { inside = 0 }
    inside && $1 == "version:" { print $2; exit }' k8s/charts.yaml)"
  [[ -n "$v" ]] || { echo "k8s/charts.yaml pins no version for $1" >&2; exit 1; }
  printf '%s' "$v"
}
TRAEFIK_CHART_VERSION="${TRAEFIK_CHART_VERSION:-$(pin traefik)}"
FUSIONAUTH_CHART_VERSION="${FUSIONAUTH_CHART_VERSION:-$(pin fusionauth)}"
ENVOY_GATEWAY_VERSION="${ENVOY_GATEWAY_VERSION:-$(pin envoy-gateway)}"

WORK="$(mktemp -d)"
PF_PID=""
FAILURES=0

k() { kubectl --context "$CTX" "$@"; }
log() { printf '\n== %s\n' "$*"; }
kindctl() { go -C hack/kind run . "$@"; }

cleanup() {
  local rc=$?
  [[ -n "$PF_PID" ]] && kill "$PF_PID" 2>/dev/null || true
  rm -rf "$WORK"
  if [[ $rc -eq 0 && "$KEEP" == false ]]; then
    kindctl delete --name "$CLUSTER" || true
  elif [[ $rc -ne 0 ]]; then
    echo "failed; the cluster is kept for inspection (context $CTX); delete it with: go -C hack/kind run . delete" >&2
  fi
}
trap cleanup EXIT

for cmd in docker go kubectl helm curl openssl; do
  command -v "$cmd" >/dev/null || { echo "missing command: $cmd" >&2; exit 1; }
done

log "cluster"
kindctl create --name "$CLUSTER"
k apply -f k8s/kind/namespaces.yaml
k apply -f k8s/kind/coredns.yaml
k -n kube-system rollout restart deployment/coredns
k -n kube-system rollout status deployment/coredns --timeout=180s

log "images"
for c in authproxy catalog inventory; do
  dockerfile="$c/Dockerfile"
  [[ "$c" != authproxy ]] && dockerfile="services/$c/Dockerfile"
  if [[ "$BUILD" == true ]]; then
    docker build -f "$dockerfile" -t "gatewarden/$c:$TAG" .
  fi
  kindctl kind load docker-image "gatewarden/$c:$TAG" --name "$CLUSTER"
done

log "ingress controller ($INGRESS)"
if [[ "$INGRESS" == traefik ]]; then
  helm repo add traefik https://traefik.github.io/charts --force-update >/dev/null
  helm --kube-context "$CTX" upgrade --install traefik traefik/traefik -n traefik --create-namespace \
    --version "$TRAEFIK_CHART_VERSION" -f k8s/traefik/values.yaml --wait --timeout 5m
else
  helm --kube-context "$CTX" upgrade --install eg oci://docker.io/envoyproxy/gateway-helm \
    --version "$ENVOY_GATEWAY_VERSION" -n envoy-gateway-system --create-namespace \
    -f k8s/envoy-gateway/values.yaml --wait --timeout 5m
  k apply -f k8s/envoy-gateway/gateway.yaml
  k wait --for=condition=Programmed gateway/eg -n envoy-gateway-system --timeout=180s
fi

log "PostgreSQL and FusionAuth"
k apply -f k8s/fusionauth/postgres.yaml
k -n fusionauth rollout status statefulset/postgres --timeout=300s
helm repo add fusionauth https://fusionauth.github.io/charts --force-update >/dev/null
helm --kube-context "$CTX" upgrade --install fusionauth fusionauth/fusionauth -n fusionauth \
  --version "$FUSIONAUTH_CHART_VERSION" -f k8s/fusionauth/values.yaml \
  --set-file 'kickstart.data.kickstart\.json=k8s/fusionauth/kickstart.json' --wait --timeout 10m
k -n fusionauth port-forward svc/fusionauth 9011:9011 >"$WORK/port-forward.log" 2>&1 &
PF_PID=$!
echo "waiting for the kickstart to create the Gateway application"
for _ in $(seq 1 90); do
  status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $FA_API_KEY" "$FA_LOCAL/api/application/$CLIENT_ID" || true)"
  [[ "$status" == 200 ]] && break
  sleep 2
done
[[ "$status" == 200 ]] || { echo "FusionAuth kickstart did not finish (last status $status)" >&2; exit 1; }

log "gatewarden chart"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/signing-key.pem" 2>/dev/null
helm --kube-context "$CTX" upgrade --install gatewarden charts/gatewarden -n "$NS" \
  -f k8s/gatewarden/values-kind.yaml \
  --set ingress.mode="$INGRESS" \
  --set authproxy.devMode=false --set authproxy.replicas=2 \
  --set-file 'authproxy.signing.keys[0]'="$WORK/signing-key.pem" \
  --set authproxy.image.tag="$TAG" --set catalog.image.tag="$TAG" --set inventory.image.tag="$TAG" \
  --wait --timeout 5m

log "end-to-end checks through the ingress ($GATEWAY)"
# Routes may take a moment to be programmed after the objects are created.
for _ in $(seq 1 30); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$GATEWAY/products" || true)" == 200 ]] && break
  sleep 2
done
# The same checks CI runs on hack/cluster's own cluster (hack/cluster/e2e, which runs hack/e2e's
# shared flows, the browser login, and the NetworkPolicy probes from pods), attached to this
# installation; the tests that upgrade the release or need the node's network skip here.
go -C hack/cluster run ./cmd/gatewarden-cluster probe-image "$WORK/probe.tar"
kindctl kind load image-archive "$WORK/probe.tar" --name "$CLUSTER"
kindctl kind get kubeconfig --name "$CLUSTER" >"$WORK/kubeconfig"
GATEWARDEN_CLUSTER_KUBECONFIG="$WORK/kubeconfig" GATEWARDEN_CLUSTER_INGRESS="$INGRESS" \
  GATEWARDEN_CLUSTER_GATEWAY_ADDR=127.0.0.1:80 GATEWARDEN_CLUSTER_IDP_ADDR=127.0.0.1:9011 \
  go -C hack/cluster test -count=1 -timeout 15m ./e2e/ -v || FAILURES=$((FAILURES + 1))

if [[ $FAILURES -gt 0 ]]; then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
log "all checks passed"
