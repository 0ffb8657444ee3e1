#!/usr/bin/env bash
# End-to-end test of gatewarden on kind: creates the cluster, builds and loads the three images,
# installs the ingress controller, PostgreSQL + FusionAuth (kickstarted), and the chart with a real
# signing key and two authproxy replicas, then checks the request flows through the cluster's
# ingress (http://localhost) and that a pod in another namespace cannot reach catalog,
# inventory, authproxy or Redis directly (NetworkPolicy).
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

Environment: FUSIONAUTH_CHART_VERSION (default: latest), ENVOY_GATEWAY_VERSION (default v1.9.1).
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
CLIENT_SECRET=dev-client-secret
FUSIONAUTH_CHART_VERSION="${FUSIONAUTH_CHART_VERSION:-}"
ENVOY_GATEWAY_VERSION="${ENVOY_GATEWAY_VERSION:-v1.9.1}"

if [[ "$INGRESS" == traefik ]]; then INGRESS_NS=traefik; else INGRESS_NS=envoy-gateway-system; fi
WORK="$(mktemp -d)"
PF_PID=""
FAILURES=0

k() { kubectl --context "$CTX" "$@"; }
log() { printf '\n== %s\n' "$*"; }
kindctl() { go -C hack/kind run . "$@"; }

cleanup() {
  local rc=$?
  [[ -n "$PF_PID" ]] && kill "$PF_PID" 2>/dev/null || true
  k -n intruder delete pod intruder --ignore-not-found --wait=false >/dev/null 2>&1 || true
  k -n "$INGRESS_NS" delete pod ingress-impostor --ignore-not-found --wait=false >/dev/null 2>&1 || true
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

# expect NAME WANT CURL_ARGS...: one HTTP check; WANT is a status or an alternation such as
# "302|303" ("!200" means anything but 200); prints the body on failure.
expect() {
  local name="$1" want="$2"; shift 2
  local got ok=false
  got="$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 20 "$@" || echo 000)"
  if [[ "$want" == !* ]]; then
    [[ "$got" != "${want#!}" && "$got" != 000 ]] && ok=true
  elif [[ "$got" =~ ^($want)$ ]]; then
    ok=true
  fi
  if [[ "$ok" == true ]]; then
    echo "ok   $name: $got"
  else
    echo "FAIL $name: got $got, want $want" >&2
    head -c 400 "$WORK/body" >&2 || true; echo >&2
    FAILURES=$((FAILURES + 1))
  fi
}

# token EMAIL PASSWORD: a FusionAuth access token through the password grant (enabled for the
# dev application only).
token() {
  curl -sS --fail --max-time 20 -u "$CLIENT_ID:$CLIENT_SECRET" \
    --data-urlencode grant_type=password --data-urlencode "username=$1" \
    --data-urlencode "password=$2" --data-urlencode "scope=openid offline_access" \
    "$FA_LOCAL/oauth2/token" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p'
}

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
    -f k8s/traefik/values.yaml --wait --timeout 5m
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
version_flag=()
[[ -n "$FUSIONAUTH_CHART_VERSION" ]] && version_flag=(--version "$FUSIONAUTH_CHART_VERSION")
helm --kube-context "$CTX" upgrade --install fusionauth fusionauth/fusionauth -n fusionauth \
  "${version_flag[@]}" -f k8s/fusionauth/values.yaml \
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

log "flows through the ingress ($GATEWAY)"
# Routes may take a moment to be programmed after the objects are created.
for _ in $(seq 1 30); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$GATEWAY/products" || true)" == 200 ]] && break
  sleep 2
done
manager="$(token manager@example.com manager-pass)"
admin="$(token admin@example.com admin-pass)"
customer="$(token customer@example.com customer-pass)"
[[ -n "$manager" && -n "$admin" && -n "$customer" ]] || { echo "could not get FusionAuth tokens (password grant)" >&2; exit 1; }

expect "anonymous GET /products" 200 "$GATEWAY/products"
expect "anonymous API client GET /branches/1/products" 401 -H 'Accept: application/json' "$GATEWAY/branches/1/products"
expect "anonymous browser GET /branches/1/products redirects to login" "302|303" -H 'Accept: text/html' "$GATEWAY/branches/1/products"
expect "dot segments do not dodge the rule" '!200' --path-as-is -H 'Accept: application/json' "$GATEWAY/products/../branches/1/products"
expect "encoded path does not dodge the rule" '!200' -H 'Accept: application/json' "$GATEWAY/%62ranches/1/products"
expect "forged bearer token" 401 -H 'Accept: application/json' -H 'Authorization: Bearer not.a.token' "$GATEWAY/branches/1/products"
expect "branch manager, own branch" 200 -H "Authorization: Bearer $manager" "$GATEWAY/branches/1/products"
expect "branch manager, other branch" 403 -H "Authorization: Bearer $manager" "$GATEWAY/branches/2/products"
expect "admin, any branch" 200 -H "Authorization: Bearer $admin" "$GATEWAY/branches/2/products"
expect "customer has no inventory role" 403 -H "Authorization: Bearer $customer" "$GATEWAY/branches/1/products"
expect "admin lists branches" 200 -H "Authorization: Bearer $admin" "$GATEWAY/branches"
expect "customer cannot list branches" 403 -H "Authorization: Bearer $customer" "$GATEWAY/branches"
expect "login start redirects to FusionAuth" "302|303" "$GATEWAY/oauth2/start?rd=/products"

log "NetworkPolicy: direct connections"
svc() { echo "gatewarden-$1.$NS.svc.cluster.local"; }
pod_manifest() { # NAMESPACE NAME LABELS-JSON
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $2, namespace: $1, labels: $3}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: probe
    image: docker.io/curlimages/curl:8.11.1
    command: [sleep, "3600"]
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
EOF
}
# reach NAMESPACE POD HOST PORT: 0 when a TCP connection opens (whatever the server answers,
# even Redis closing on an HTTP request), 1 when it times out or is refused (curl exit 28 or 7).
# Anything else (DNS failure, exec failure) stops the script: the check would prove nothing.
reach() {
  local rc=0
  k -n "$1" exec "$2" -- curl -s -o /dev/null --connect-timeout 5 --max-time 8 "http://$3:$4/" || rc=$?
  case "$rc" in
    7|28) return 1 ;;
    0|52|56|1|22) return 0 ;;
    *) echo "probe from $1/$2 to $3:$4 failed with curl exit $rc" >&2; exit 1 ;;
  esac
}

pod_manifest intruder intruder '{app: intruder}' | k apply -f -
# A positive control: a pod that carries the ingress controller's labels in its namespace must get
# through, which shows the intruder's failures come from the policies, not from dead services.
if [[ "$INGRESS" == traefik ]]; then
  impostor_labels='{app.kubernetes.io/name: traefik}'
else
  impostor_labels='{app.kubernetes.io/name: envoy, app.kubernetes.io/component: proxy, app.kubernetes.io/managed-by: envoy-gateway}'
fi
pod_manifest "$INGRESS_NS" ingress-impostor "$impostor_labels" | k apply -f -
k -n intruder wait --for=condition=Ready pod/intruder --timeout=120s
k -n "$INGRESS_NS" wait --for=condition=Ready pod/ingress-impostor --timeout=120s

for target in "catalog 8080" "inventory 8080" "authproxy 4180" "redis 6379"; do
  set -- $target
  if reach intruder intruder "$(svc "$1")" "$2"; then
    echo "FAIL intruder reached $1:$2" >&2; FAILURES=$((FAILURES + 1))
  else
    echo "ok   intruder cannot reach $1:$2"
  fi
done
for target in "catalog 8080" "inventory 8080" "authproxy 4180"; do
  set -- $target
  if reach "$INGRESS_NS" ingress-impostor "$(svc "$1")" "$2"; then
    echo "ok   ingress controller reaches $1:$2"
  else
    echo "FAIL ingress controller cannot reach $1:$2" >&2; FAILURES=$((FAILURES + 1))
  fi
done
if reach "$INGRESS_NS" ingress-impostor "$(svc redis)" 6379; then
  echo "FAIL ingress controller reached redis:6379" >&2; FAILURES=$((FAILURES + 1))
else
  echo "ok   ingress controller cannot reach redis:6379"
fi

if [[ $FAILURES -gt 0 ]]; then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
log "all checks passed"
