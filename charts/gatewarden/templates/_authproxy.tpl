{{/*
authproxy's environment (a list of name/value pairs): the Deployment's env, and in sidecar mode
the data of the ConfigMap the sidecar takes its environment from, so both read one definition.
*/}}
{{- define "gatewarden.authproxyEnv" -}}
{{- $ap := .Values.authproxy }}
{{- $redisSecret := include "gatewarden.redisSecretName" . }}
{{- $sentinelSecret := include "gatewarden.redisSentinelSecretName" . }}
{{- $signingFiles := list }}
{{- range (include "gatewarden.signingKeys" . | fromJsonArray) }}
{{- $signingFiles = append $signingFiles (printf "%s/%s" (include "gatewarden.signingDir" $) .) }}
{{- end }}
- name: AUTHPROXY_LISTEN
  value: ":4180"
{{- with include "gatewarden.tracingEnv" (dict "ctx" . "component" "authproxy") }}
{{- . | trim | nindent 0 }}
{{- end }}
- name: AUTHPROXY_PUBLIC_URL
  value: {{ .Values.publicURL | quote }}
- name: AUTHPROXY_FUSIONAUTH_URL
  value: {{ .Values.fusionAuth.url | quote }}
{{- with .Values.fusionAuth.issuer }}
- name: AUTHPROXY_OIDC_ISSUER
  value: {{ . | quote }}
{{- end }}
- name: AUTHPROXY_CLIENT_ID
  value: {{ .Values.fusionAuth.clientId | quote }}
- name: AUTHPROXY_CLIENT_SECRET_FILE
  value: /etc/gatewarden/secrets/client-secret
- name: AUTHPROXY_COOKIE_NAME
  value: {{ $ap.cookieName | quote }}
- name: AUTHPROXY_COOKIE_SECRET_FILE
  value: /etc/gatewarden/secrets/cookie-secret
- name: AUTHPROXY_REDIS_ADDRS
  value: {{ include "gatewarden.redisAddrs" . | quote }}
{{- if not .Values.redis.enabled }}
{{- with .Values.externalRedis.masterName }}
- name: AUTHPROXY_REDIS_MASTER_NAME
  value: {{ . | quote }}
{{- end }}
{{- with .Values.externalRedis.username }}
- name: AUTHPROXY_REDIS_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- if .Values.externalRedis.masterName }}
{{- with .Values.externalRedis.sentinel.username }}
- name: AUTHPROXY_REDIS_SENTINEL_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- end }}
- name: AUTHPROXY_REDIS_DB
  value: {{ .Values.externalRedis.db | quote }}
- name: AUTHPROXY_REDIS_TLS
  value: {{ .Values.externalRedis.tls | quote }}
{{- end }}
{{- if $redisSecret }}
- name: AUTHPROXY_REDIS_PASSWORD_FILE
  value: /etc/gatewarden/secrets/redis-password
{{- end }}
{{- if $sentinelSecret }}
- name: AUTHPROXY_REDIS_SENTINEL_PASSWORD_FILE
  value: /etc/gatewarden/secrets/redis-sentinel-password
{{- end }}
- name: AUTHPROXY_SIGNING_ALG
  value: {{ $ap.signing.alg | quote }}
{{- if $ap.devMode }}
- name: AUTHPROXY_DEV_MODE
  value: "true"
{{- else }}
- name: AUTHPROXY_SIGNING_KEY_FILES
  value: {{ join "," $signingFiles | quote }}
{{- end }}
- name: AUTHPROXY_TOKEN_TTL
  value: {{ $ap.tokenTTL | quote }}
- name: AUTHPROXY_REVOCATION_RETENTION
  value: {{ .Values.revocationFeed.retention | quote }}
- name: AUTHPROXY_RULES_FILE
  value: /etc/gatewarden/rules/rules.yaml
- name: AUTHPROXY_RULES_RELOAD
  value: {{ $ap.rulesReload | quote }}
- name: AUTHPROXY_TRUSTED_PROXIES
  value: {{ include "gatewarden.trustedProxies" . | quote }}
{{- with $ap.allowedRedirectHosts }}
- name: AUTHPROXY_ALLOWED_REDIRECT_HOSTS
  value: {{ join "," . | quote }}
{{- end }}
- name: AUTHPROXY_SESSION_LIFETIME
  value: {{ $ap.sessionLifetime | quote }}
- name: AUTHPROXY_SESSION_IDLE_TIMEOUT
  value: {{ $ap.sessionIdleTimeout | quote }}
- name: AUTHPROXY_PASS_USER_HEADERS
  value: {{ $ap.passUserHeaders | quote }}
- name: AUTHPROXY_LOG_LEVEL
  value: {{ $ap.logLevel | quote }}
{{- if $ap.webhook.enabled }}
- name: AUTHPROXY_WEBHOOK_ENABLED
  value: "true"
{{- with $ap.webhook.tenantId }}
- name: AUTHPROXY_WEBHOOK_TENANT_ID
  value: {{ . | quote }}
{{- end }}
{{- if $ap.webhook.hmacKey.existingSecret }}
- name: AUTHPROXY_WEBHOOK_HMAC_KEY_FILE
  value: /etc/gatewarden/secrets/webhook-hmac-key
{{- end }}
{{- end }}
{{- if $ap.backChannelLogout }}
- name: AUTHPROXY_BACKCHANNEL_LOGOUT_ENABLED
  value: "true"
{{- end }}
{{- if include "gatewarden.idpListener" . }}
- name: AUTHPROXY_WEBHOOK_LISTEN
  value: {{ printf ":%v" $ap.webhook.port | quote }}
{{- end }}
{{- end }}

{{/*
gatewarden.idpListener is "true" when authproxy serves the identity provider's calls (the
webhook, back-channel logout) on their own port, "" otherwise.
*/}}
{{- define "gatewarden.idpListener" -}}
{{- if or .Values.authproxy.webhook.enabled .Values.authproxy.backChannelLogout }}true{{ end }}
{{- end }}
