{{/*
Chart name, cut to 63 characters.
*/}}
{{- define "gatewarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified release name, cut to 63 characters (DNS-1123 label limit).
*/}}
{{- define "gatewarden.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of one component's objects: "<fullname>-<component>", the fullname cut so that the whole
stays within 63 characters. Call with (dict "ctx" $ "component" "authproxy").
*/}}
{{- define "gatewarden.componentName" -}}
{{- $max := sub 62 (len .component) | int }}
{{- printf "%s-%s" (include "gatewarden.fullname" .ctx | trunc $max | trimSuffix "-") .component }}
{{- end }}

{{/*
Chart label value.
*/}}
{{- define "gatewarden.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels. Call with (dict "ctx" $ "component" "authproxy"); component may be "".
*/}}
{{- define "gatewarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatewarden.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{/*
Common labels. Call with (dict "ctx" $ "component" "authproxy"); component may be "".
*/}}
{{- define "gatewarden.labels" -}}
helm.sh/chart: {{ include "gatewarden.chart" .ctx }}
{{ include "gatewarden.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: gatewarden
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Container image reference. Call with (dict "ctx" $ "image" .Values.authproxy.image).
*/}}
{{- define "gatewarden.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/*
Pod-level security context: the "restricted" Pod Security Standard. Call with a uid.
*/}}
{{- define "gatewarden.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container-level security context: the "restricted" Pod Security Standard plus a read-only root
file system. Call with a uid.
*/}}
{{- define "gatewarden.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Validation: fails rendering with every problem of the values at once.
*/}}
{{- define "gatewarden.validate" -}}
{{- $errs := list }}
{{- $v := .Values }}
{{- if not $v.publicURL }}
{{- $errs = append $errs "publicURL is required (the gateway's external URL, e.g. https://shop.example.com)" }}
{{- else if not (regexMatch "^https?://[^/?#]+$" $v.publicURL) }}
{{- $errs = append $errs (printf "publicURL %q must be scheme://host[:port] with http or https and no path" $v.publicURL) }}
{{- end }}
{{- if not $v.fusionAuth.url }}
{{- $errs = append $errs "fusionAuth.url is required (FusionAuth's base URL as authproxy reaches it)" }}
{{- else if not (regexMatch "^https?://[^?#]+$" $v.fusionAuth.url) }}
{{- $errs = append $errs (printf "fusionAuth.url %q must be an http or https URL" $v.fusionAuth.url) }}
{{- end }}
{{- if not $v.fusionAuth.clientId }}
{{- $errs = append $errs "fusionAuth.clientId is required (the FusionAuth application id)" }}
{{- end }}
{{- if and (not $v.fusionAuth.clientSecret.existingSecret) (not $v.fusionAuth.clientSecret.value) }}
{{- $errs = append $errs "fusionAuth.clientSecret.value or fusionAuth.clientSecret.existingSecret is required" }}
{{- end }}
{{- if and (or $v.catalog.acceptAccessTokens $v.inventory.acceptAccessTokens) (not $v.fusionAuth.issuer) }}
{{- $errs = append $errs "fusionAuth.issuer is required when catalog or inventory accept FusionAuth access tokens (acceptAccessTokens)" }}
{{- end }}
{{- if $v.authproxy.devMode }}
{{- if or $v.authproxy.autoscaling.enabled (gt (int $v.authproxy.replicas) 1) }}
{{- $errs = append $errs "authproxy.devMode generates a key per replica: use authproxy.replicas=1 and no autoscaling, or give signing keys" }}
{{- end }}
{{- else if and (not $v.authproxy.signing.existingSecret) (not $v.authproxy.signing.keys) }}
{{- $errs = append $errs "authproxy.signing.keys (PEM private keys) or authproxy.signing.existingSecret is required (or authproxy.devMode=true for development)" }}
{{- end }}
{{- if and $v.authproxy.signing.existingSecret (not $v.authproxy.signing.existingSecretKeys) }}
{{- $errs = append $errs "authproxy.signing.existingSecretKeys must name at least one key of authproxy.signing.existingSecret" }}
{{- end }}
{{- if $v.authproxy.cookieSecret.value }}
{{- if lt (len $v.authproxy.cookieSecret.value) 32 }}
{{- $errs = append $errs "authproxy.cookieSecret.value must be at least 32 bytes" }}
{{- end }}
{{- end }}
{{- if and (not $v.redis.enabled) (not $v.externalRedis.addrs) }}
{{- $errs = append $errs "externalRedis.addrs is required when redis.enabled is false" }}
{{- end }}
{{- if eq $v.authproxy.mode "sidecar" }}
{{- if eq $v.authproxy.sidecar.namespace $.Release.Namespace }}
{{- $errs = append $errs "authproxy.sidecar.namespace must be the ingress controller's namespace, not the release's: install gatewarden into a namespace of its own" }}
{{- end }}
{{- if $v.authproxy.extraEnv }}
{{- $errs = append $errs "authproxy.extraEnv does not reach the sidecar: give its container the variables in the ingress controller's values (k8s/traefik/values-sidecar.yaml)" }}
{{- end }}
{{- if and (not $v.redis.enabled) $v.externalRedis.masterName (or $v.externalRedis.sentinel.password $v.externalRedis.sentinel.existingSecret) }}
{{- $errs = append $errs "authproxy.mode sidecar does not support Sentinel authentication (externalRedis.sentinel.*) yet: its Secret is not copied into the ingress controller's namespace" }}
{{- end }}
{{- end }}
{{- if and (eq $v.authproxy.mode "sidecar") (ne $v.ingress.mode "traefik") }}
{{- $errs = append $errs (printf "authproxy.mode sidecar is provided for ingress.mode traefik (k8s/traefik/values-sidecar.yaml), not %q" $v.ingress.mode) }}
{{- end }}
{{- if and $v.redis.enabled $v.externalRedis.addrs }}
{{- $errs = append $errs "set either redis.enabled or externalRedis.addrs, not both" }}
{{- end }}
{{- if and $v.externalRedis.masterName (not $v.externalRedis.addrs) }}
{{- $errs = append $errs "externalRedis.masterName needs the Sentinel addresses in externalRedis.addrs" }}
{{- end }}
{{- $sentinel := $v.externalRedis.sentinel }}
{{- if and (or $sentinel.username $sentinel.password $sentinel.existingSecret) (not $v.externalRedis.masterName) }}
{{- $errs = append $errs "externalRedis.sentinel.username, password and existingSecret are only for Sentinel: set externalRedis.masterName" }}
{{- end }}
{{- if and $v.networkPolicy.enabled (eq $v.ingress.mode "none") (not $v.networkPolicy.ingressFrom) }}
{{- $errs = append $errs "networkPolicy.ingressFrom is required with ingress.mode=none (which pods may reach authproxy and the services?)" }}
{{- end }}
{{- if and $v.authproxy.autoscaling.enabled (lt (int $v.authproxy.autoscaling.maxReplicas) (int $v.authproxy.autoscaling.minReplicas)) }}
{{- $errs = append $errs "authproxy.autoscaling.maxReplicas must be >= minReplicas" }}
{{- end }}
{{- range $svc := list "catalog" "inventory" }}
{{- $db := index $v.externalDatabase $svc }}
{{- if and $db.url (not (regexMatch "^postgres(ql)?://[^:@/]+@[^/]+/[^?#]+" $db.url)) }}
{{- $errs = append $errs (printf "externalDatabase.%s.url must be postgres://user@host[:port]/database[?options], without a password (give it in existingSecret)" $svc) }}
{{- end }}
{{- if and $db.existingSecret (not $db.url) }}
{{- $errs = append $errs (printf "externalDatabase.%s.existingSecret needs externalDatabase.%s.url" $svc $svc) }}
{{- end }}
{{- end }}
{{- if and (eq $v.ingress.mode "ingressNginx") $v.ingress.ingressNginx.tlsSecretName (not $v.ingress.host) }}
{{- $errs = append $errs "ingress.ingressNginx.tlsSecretName needs ingress.host" }}
{{- end }}
{{- if $errs }}
{{- fail (printf "\n\ngatewarden: invalid values:\n  - %s\n" (join "\n  - " $errs)) }}
{{- end }}
{{- end }}

{{/*
Secret and key names the pods read. Each is either the chart's own Secret or an existingSecret.
*/}}
{{- define "gatewarden.clientSecretName" -}}
{{- default (include "gatewarden.componentName" (dict "ctx" . "component" "oidc")) .Values.fusionAuth.clientSecret.existingSecret }}
{{- end }}

{{- define "gatewarden.cookieSecretName" -}}
{{- default (include "gatewarden.componentName" (dict "ctx" . "component" "cookie")) .Values.authproxy.cookieSecret.existingSecret }}
{{- end }}

{{- define "gatewarden.signingSecretName" -}}
{{- default (include "gatewarden.componentName" (dict "ctx" . "component" "signing")) .Values.authproxy.signing.existingSecret }}
{{- end }}

{{/*
Keys of the signing Secret, newest first (a list, as JSON).
*/}}
{{- define "gatewarden.signingKeys" -}}
{{- if .Values.authproxy.signing.existingSecret }}
{{- toJson .Values.authproxy.signing.existingSecretKeys }}
{{- else }}
{{- $keys := list }}
{{- range $i, $_ := .Values.authproxy.signing.keys }}
{{- $keys = append $keys (printf "signing-key-%d.pem" $i) }}
{{- end }}
{{- toJson $keys }}
{{- end }}
{{- end }}

{{/*
Redis password Secret: "" when no password is used.
*/}}
{{- define "gatewarden.redisSecretName" -}}
{{- if .Values.redis.enabled }}
{{- if .Values.redis.auth.enabled }}
{{- default (include "gatewarden.componentName" (dict "ctx" . "component" "redis")) .Values.redis.auth.existingSecret }}
{{- end }}
{{- else if .Values.externalRedis.existingSecret }}
{{- .Values.externalRedis.existingSecret }}
{{- else if .Values.externalRedis.password }}
{{- include "gatewarden.componentName" (dict "ctx" . "component" "redis") }}
{{- end }}
{{- end }}

{{- define "gatewarden.redisSecretKey" -}}
{{- if .Values.redis.enabled }}{{ .Values.redis.auth.key }}{{ else }}{{ .Values.externalRedis.key }}{{ end }}
{{- end }}

{{/*
Sentinel password Secret: "" when the sentinels take no password (or Sentinel is not used).
*/}}
{{- define "gatewarden.redisSentinelSecretName" -}}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.masterName }}
{{- if .Values.externalRedis.sentinel.existingSecret }}
{{- .Values.externalRedis.sentinel.existingSecret }}
{{- else if .Values.externalRedis.sentinel.password }}
{{- include "gatewarden.componentName" (dict "ctx" . "component" "redis-sentinel") }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Redis addresses authproxy connects to (comma separated).
*/}}
{{- define "gatewarden.redisAddrs" -}}
{{- if .Values.redis.enabled }}
{{- /* Fully qualified: the authproxy sidecar resolves it from the ingress controller's namespace. */}}
{{- printf "%s.%s.svc.%s:6379" (include "gatewarden.componentName" (dict "ctx" . "component" "redis")) .Release.Namespace .Values.clusterDomain }}
{{- else }}
{{- join "," .Values.externalRedis.addrs }}
{{- end }}
{{- end }}

{{/*
Keep a generated secret value stable across upgrades: the value already stored in the cluster
when the Secret exists, else a new random one. Call with (dict "ctx" $ "name" "..." "key" "..." "length" 48).
*/}}
{{- define "gatewarden.generatedSecret" -}}
{{- $existing := lookup "v1" "Secret" (default .ctx.Release.Namespace .namespace) .name }}
{{- if and $existing $existing.data (hasKey $existing.data .key) }}
{{- index $existing.data .key | b64dec }}
{{- else }}
{{- randAlphaNum (int .length) }}
{{- end }}
{{- end }}

{{/*
In-cluster base URL of authproxy.
*/}}
{{- define "gatewarden.authproxyURL" -}}
{{- printf "http://%s.%s.svc.%s:4180" (include "gatewarden.componentName" (dict "ctx" . "component" "authproxy")) (include "gatewarden.authproxyNamespace" .) .Values.clusterDomain }}
{{- end }}

{{/*
"true" when authproxy runs as a sidecar of the ingress controller (authproxy.mode).
*/}}
{{- define "gatewarden.sidecar" -}}
{{- if eq .Values.authproxy.mode "sidecar" }}true{{ end }}
{{- end }}

{{/*
Namespace of authproxy's objects: the release's, or the ingress controller's in sidecar mode.
*/}}
{{- define "gatewarden.authproxyNamespace" -}}
{{- if include "gatewarden.sidecar" . }}{{ .Values.authproxy.sidecar.namespace }}{{ else }}{{ .Release.Namespace }}{{ end }}
{{- end }}

{{/*
NetworkPolicy peers that are authproxy: its pods, or the ingress controller's in sidecar mode.
*/}}
{{- define "gatewarden.authproxyPeers" -}}
{{- if include "gatewarden.sidecar" . }}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.authproxy.sidecar.namespace }}
  podSelector:
    matchLabels:
      {{- toYaml .Values.authproxy.sidecar.podLabels | nindent 6 }}
{{- else }}
- podSelector:
    matchLabels:
      {{- include "gatewarden.selectorLabels" (dict "ctx" . "component" "authproxy") | nindent 6 }}
{{- end }}
{{- end }}

{{/*
Folder of the signing keys in authproxy's container: in the Deployment one projected volume
holds every secret; the sidecar mounts the signing Secret whole, beside the others.
*/}}
{{- define "gatewarden.signingDir" -}}
{{- if include "gatewarden.sidecar" . }}/etc/gatewarden/signing{{ else }}/etc/gatewarden/secrets/signing{{ end }}
{{- end }}

{{/*
JWT_ISSUERS for a service: the gateway (authproxy's JWKS) and, when asked, FusionAuth.
Call with (dict "ctx" $ "svc" .Values.catalog).
*/}}
{{- define "gatewarden.jwtIssuers" -}}
{{- $ctx := .ctx }}
{{- $specs := list (printf "iss=%s,jwks=%s/.well-known/jwks.json,algs=%s,refresh=%s" $ctx.Values.publicURL (include "gatewarden.authproxyURL" $ctx) $ctx.Values.authproxy.signing.alg $ctx.Values.jwksRefresh) }}
{{- if .svc.acceptAccessTokens }}
{{- $specs = append $specs (printf "iss=%s,jwks=%s/.well-known/jwks.json,aud=%s,algs=%s,refresh=%s" $ctx.Values.fusionAuth.issuer (trimSuffix "/" $ctx.Values.fusionAuth.url) $ctx.Values.fusionAuth.clientId (join "|" $ctx.Values.fusionAuth.algorithms) $ctx.Values.jwksRefresh) }}
{{- end }}
{{- join ";" $specs }}
{{- end }}

{{/*
Peers allowed to reach authproxy, catalog and inventory: networkPolicy.ingressFrom, or the usual
ingress controller pods of ingress.mode.
*/}}
{{- define "gatewarden.ingressPeers" -}}
{{- if .Values.networkPolicy.ingressFrom }}
{{- toYaml .Values.networkPolicy.ingressFrom }}
{{- else if eq .Values.ingress.mode "traefik" }}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: traefik
  podSelector:
    matchLabels:
      app.kubernetes.io/name: traefik
{{- else if eq .Values.ingress.mode "gatewayAPI" }}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: envoy-gateway-system
  podSelector:
    matchLabels:
      app.kubernetes.io/name: envoy
      app.kubernetes.io/managed-by: envoy-gateway
      app.kubernetes.io/component: proxy
{{- else if eq .Values.ingress.mode "ingressNginx" }}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: ingress-nginx
  podSelector:
    matchLabels:
      app.kubernetes.io/name: ingress-nginx
      app.kubernetes.io/component: controller
{{- end }}
{{- end }}

{{/*
Egress rule allowing DNS lookups.
*/}}
{{- define "gatewarden.egressDNS" -}}
- to:
    {{- toYaml .Values.networkPolicy.dns.to | nindent 4 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end }}

{{/*
Egress rule allowing FusionAuth.
*/}}
{{- define "gatewarden.egressFusionAuth" -}}
- to:
    {{- toYaml .Values.networkPolicy.fusionAuth.to | nindent 4 }}
  ports:
    {{- range .Values.networkPolicy.fusionAuth.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end }}

{{/*
authproxy's trusted proxy networks: authproxy.trustedProxies, or else the pod ranges of the
cluster's nodes (lookup). Fails with what to set when neither is there.
*/}}
{{- define "gatewarden.trustedProxies" -}}
{{- $ap := .Values.authproxy }}
{{- if include "gatewarden.sidecar" . }}
{{- /* The ingress controller asks over loopback, from the same pod. */}}
{{- "127.0.0.1/32,::1/128" }}
{{- else if $ap.trustedProxies }}
{{- join "," $ap.trustedProxies }}
{{- else }}
{{- $cidrs := list }}
{{- range (lookup "v1" "Node" "" "").items }}
{{- range (default (list .spec.podCIDR) .spec.podCIDRs) }}
{{- if and . (not (has . $cidrs)) }}
{{- $cidrs = append $cidrs . }}
{{- end }}
{{- end }}
{{- end }}
{{- if not $cidrs }}
{{- fail "authproxy.trustedProxies is empty and no node of the cluster has a pod range (spec.podCIDRs) to derive it from, or the chart is rendered without a cluster (helm template): set authproxy.trustedProxies to the address range of your ingress controller's pods (your CNI's pod network, e.g. [10.244.0.0/16] on kind)" }}
{{- end }}
{{- join "," $cidrs }}
{{- end }}
{{- end }}

{{/*
Whether authproxy runs two or more pods (replicas, or autoscaling from two).
*/}}
{{- define "gatewarden.authproxyReplicated" -}}
{{- $ap := .Values.authproxy }}
{{- if or (and $ap.autoscaling.enabled (ge (int $ap.autoscaling.minReplicas) 2)) (and (not $ap.autoscaling.enabled) (ge (int $ap.replicas) 2)) }}true{{ end }}
{{- end }}

{{/*
Whether the release runs PostgreSQL: postgresql.enabled, unless both services have an external
database.
*/}}
{{- define "gatewarden.postgresqlEnabled" -}}
{{- $ext := .Values.externalDatabase }}
{{- if and .Values.postgresql.enabled (not (and $ext.catalog.url $ext.inventory.url)) }}true{{ end }}
{{- end }}

{{/*
Name of the Secret with the in-cluster PostgreSQL roles' passwords.
*/}}
{{- define "gatewarden.postgresqlSecretName" -}}
{{- default (include "gatewarden.componentName" (dict "ctx" . "component" "postgresql")) .Values.postgresql.auth.existingSecret }}
{{- end }}

{{/*
A service's database: its DATABASE_URL (no password in it) and the Secret and key PGPASSWORD
comes from, as JSON ({"url", "secret", "key"}; url "" = the service's in-memory database).
externalDatabase.<service>.url wins over the in-cluster PostgreSQL. Call with
(dict "ctx" $ "component" "catalog").
*/}}
{{- define "gatewarden.database" -}}
{{- $ctx := .ctx }}
{{- $ext := index $ctx.Values.externalDatabase .component }}
{{- $pg := $ctx.Values.postgresql }}
{{- if $ext.url }}
{{- dict "url" $ext.url "secret" $ext.existingSecret "key" $ext.key | toJson }}
{{- else if $pg.enabled }}
{{- $host := printf "%s.%s.svc.%s" (include "gatewarden.componentName" (dict "ctx" $ctx "component" "postgresql")) $ctx.Release.Namespace $ctx.Values.clusterDomain }}
{{- $url := printf "postgres://%s@%s:5432/%s?sslmode=disable" .component $host .component }}
{{- dict "url" $url "secret" (include "gatewarden.postgresqlSecretName" $ctx) "key" (index $pg.auth (printf "%sKey" .component)) | toJson }}
{{- else }}
{{- dict "url" "" "secret" "" "key" "" | toJson }}
{{- end }}
{{- end }}

{{/*
Traefik routes of the gateway page (exact paths) to authproxy's Service.
*/}}
{{- define "gatewarden.traefikPageRoutes" -}}
{{- $host := .Values.ingress.host }}
{{- range .Values.ingress.paths.page }}
- kind: Rule
  match: {{ printf "%sPath(`%s`)" (ternary (printf "Host(`%s`) && " $host) "" (ne $host "")) . | quote }}
  services:
    - kind: Service
      name: {{ include "gatewarden.componentName" (dict "ctx" $ "component" "authproxy") }}
      port: http
{{- end }}
{{- end }}
