// Package tracetest checks gatewarden's OpenTelemetry traces end to end against a real
// OpenTelemetry Collector: a login, then a role decision and the request it lets through,
// carrying an ingress's W3C traceparent as Traefik, Envoy or ingress-nginx send it. See
// trace_test.go.
package tracetest
