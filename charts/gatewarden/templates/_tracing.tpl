{{/*
OpenTelemetry (values tracing.*): the standard OTEL_* variables of one component, a list of
name/value pairs (empty when tracing is off). Called with (dict "ctx" $ "component" "catalog").
*/}}
{{- define "gatewarden.tracingEnv" -}}
{{- $t := .ctx.Values.tracing }}
{{- if $t.enabled }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ required "tracing.otlpEndpoint is required when tracing.enabled is true" $t.otlpEndpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .component | quote }}
{{- with $t.sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with $t.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- with $t.resourceAttributes }}
{{- $attrs := list }}
{{- range $k, $v := . }}
{{- /* The SDK splits on "," and percent-decodes each value. */}}
{{- $attrs = append $attrs (printf "%s=%s" $k ($v | replace "%" "%25" | replace "," "%2C")) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end }}
{{- with $t.env }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Egress rule allowing the OpenTelemetry collector (empty when tracing is off).
*/}}
{{- define "gatewarden.egressTracing" -}}
{{- $t := .Values.tracing }}
{{- if $t.enabled }}
- {{- with $t.networkPolicy.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    {{- range $t.networkPolicy.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end }}
{{- end }}
