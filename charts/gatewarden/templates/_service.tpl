{{/*
catalog and inventory share one shape: a Deployment, a Service, a ServiceAccount and a
NetworkPolicy. Each template is called with (dict "ctx" $ "component" "catalog").
*/}}

{{- define "gatewarden.service.deployment" -}}
{{- $ctx := .ctx }}
{{- $svc := index $ctx.Values .component }}
{{- $name := include "gatewarden.componentName" (dict "ctx" $ctx "component" .component) }}
{{- $db := include "gatewarden.database" . | fromJson }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "gatewarden.labels" . | nindent 4 }}
spec:
  replicas: {{ $svc.replicas }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "gatewarden.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "gatewarden.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ list (include "gatewarden.jwtIssuers" (dict "ctx" $ctx "svc" $svc)) $svc.audience $svc.leeway $svc.logLevel $svc.extraEnv $db $ctx.Values.revocationFeed | toJson | sha256sum }}
        {{- with $svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "gatewarden.podSecurityContext" 65532 | nindent 8 }}
      terminationGracePeriodSeconds: 30
      containers:
        - name: {{ .component }}
          image: {{ include "gatewarden.image" (dict "ctx" $ctx "image" $svc.image) | quote }}
          imagePullPolicy: {{ $svc.image.pullPolicy }}
          securityContext:
            {{- include "gatewarden.containerSecurityContext" 65532 | nindent 12 }}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          env:
            - name: LISTEN_ADDR
              value: ":8080"
            - name: JWT_AUDIENCE
              value: {{ $svc.audience | quote }}
            - name: JWT_ISSUERS
              value: {{ include "gatewarden.jwtIssuers" (dict "ctx" $ctx "svc" $svc) | quote }}
            - name: JWT_LEEWAY
              value: {{ $svc.leeway | quote }}
            - name: LOG_LEVEL
              value: {{ $svc.logLevel | quote }}
            {{- with $ctx.Values.revocationFeed }}
            {{- if .enabled }}
            # authproxy's revocation feed (port 4180, like its JWKS above).
            - name: REVOCATION_FEED_URL
              value: {{ printf "%s/revocations" (include "gatewarden.authproxyURL" $ctx) | quote }}
            - name: REVOCATION_POLL_INTERVAL
              value: {{ .pollInterval | quote }}
            - name: REVOCATION_MAX_STALE
              value: {{ .maxStale | quote }}
            {{- end }}
            {{- end }}
            {{- if $db.url }}
            # The password is not in the URL: pgx reads PGPASSWORD.
            - name: DATABASE_URL
              value: {{ $db.url | quote }}
            {{- if $db.secret }}
            - name: PGPASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $db.secret }}
                  key: {{ $db.key }}
            {{- end }}
            {{- end }}
            {{- with include "gatewarden.tracingEnv" (dict "ctx" $ctx "component" $.component) }}
            {{- . | trim | nindent 12 }}
            {{- end }}
            {{- with $svc.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          lifecycle:
            # Keep serving while the endpoint removal reaches the ingress and kube-proxy.
            preStop:
              sleep:
                seconds: 5
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            medium: Memory
            sizeLimit: 16Mi
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{- define "gatewarden.service.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "gatewarden.componentName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "gatewarden.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "gatewarden.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: 8080
      targetPort: http
      protocol: TCP
      appProtocol: http
{{- end }}

{{- define "gatewarden.service.serviceaccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "gatewarden.componentName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "gatewarden.labels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end }}

{{/*
A service accepts the ingress controller (and metrics scrapers) on 8080, and may connect to DNS,
authproxy (the gateway JWKS, the revocation feed), its database (the release's PostgreSQL, or
networkPolicy.externalDatabase) and, when it accepts FusionAuth access tokens, FusionAuth (JWKS).
*/}}
{{- define "gatewarden.service.networkpolicy" -}}
{{- $ctx := .ctx }}
{{- $svc := index $ctx.Values .component }}
{{- $ext := index $ctx.Values.externalDatabase .component }}
{{- if $ctx.Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "gatewarden.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "gatewarden.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "gatewarden.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - from:
        {{- include "gatewarden.ingressPeers" $ctx | trim | nindent 8 }}
      ports:
        - protocol: TCP
          port: 8080
    {{- with $ctx.Values.networkPolicy.metricsFrom }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - protocol: TCP
          port: 8080
    {{- end }}
  egress:
    {{- include "gatewarden.egressDNS" $ctx | nindent 4 }}
    - to:
        {{- include "gatewarden.authproxyPeers" $ctx | trim | nindent 8 }}
      ports:
        - protocol: TCP
          port: 4180
    {{- if $ext.url }}
    - {{- with $ctx.Values.networkPolicy.externalDatabase.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        {{- range $ctx.Values.networkPolicy.externalDatabase.ports }}
        - protocol: TCP
          port: {{ . }}
        {{- end }}
    {{- else if $ctx.Values.postgresql.enabled }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "gatewarden.selectorLabels" (dict "ctx" $ctx "component" "postgresql") | nindent 14 }}
      ports:
        - protocol: TCP
          port: 5432
    {{- end }}
    {{- if $svc.acceptAccessTokens }}
    {{- include "gatewarden.egressFusionAuth" $ctx | nindent 4 }}
    {{- end }}
    {{- with include "gatewarden.egressTracing" $ctx }}
    {{- . | trim | nindent 4 }}
    {{- end }}
{{- end }}
{{- end }}
