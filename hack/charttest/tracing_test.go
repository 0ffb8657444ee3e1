package charttest

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// otelEnv returns the OTEL_* variables of authproxy (its Deployment's container, or in sidecar
// mode the ConfigMap the sidecar takes its environment from), catalog and inventory.
func otelEnv(t *testing.T, r *rendered) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	add := func(component, name, value string) {
		if !strings.HasPrefix(name, "OTEL_") {
			return
		}
		if out[component] == nil {
			out[component] = map[string]string{}
		}
		out[component][name] = value
	}
	for _, pt := range r.podTemplates() {
		c := pt.Labels["app.kubernetes.io/component"]
		for _, ctr := range pt.Spec.Containers {
			for _, e := range ctr.Env {
				add(c, e.Name, e.Value)
			}
		}
	}
	if r.sidecar() {
		env := r.sidecarEnv()
		if env == nil {
			t.Fatalf("sidecar mode renders no ConfigMap %s/%s", r.sidecarNamespace(), r.sidecarEnvName())
		}
		for k, v := range env {
			add("authproxy", k, v)
		}
	}
	return out
}

// TestTracingOnlyWhenEnabled: in every scenario, authproxy, catalog and inventory have
// OTEL_* variables (their own service name among them) exactly when tracing.enabled is true; the
// chart's default leaves them without.
func TestTracingOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	var on, off int
	for _, sc := range scenarios(t) {
		r := renderScenario(t, ch, sc)
		got := otelEnv(t, r)
		if !r.boolValue("tracing.enabled") {
			off++
			if len(got) != 0 {
				t.Errorf("%s: OTEL_* variables with tracing off: %v", sc.Name, got)
			}
			continue
		}
		on++
		for _, c := range []string{"authproxy", "catalog", "inventory"} {
			if got[c]["OTEL_SERVICE_NAME"] != c || got[c]["OTEL_EXPORTER_OTLP_ENDPOINT"] != r.stringValue("tracing.otlpEndpoint") {
				t.Errorf("%s: %s OTEL_* variables %v, want OTEL_SERVICE_NAME %s and the endpoint", sc.Name, c, got[c], c)
			}
		}
	}
	if on == 0 || off == 0 {
		t.Errorf("scenarios with tracing on: %d, off: %d; want both (a ci/ values file turns it on)", on, off)
	}
}

// tracingValues turns tracing on, with every value set, on top of base.
func tracingValues(t *testing.T, base map[string]any, collector []any) map[string]any {
	t.Helper()
	vals := deepCopy(t, base)
	vals["tracing"] = map[string]any{
		"enabled":            true,
		"otlpEndpoint":       "http://otel-collector.observability.svc.cluster.local:4318",
		"sampler":            "parentbased_traceidratio",
		"samplerArg":         "0.25",
		"resourceAttributes": map[string]any{"deployment.environment.name": "ci", "team": "platform", "note": "a,b=c 50%"},
		"env":                []any{map[string]any{"name": "OTEL_BSP_MAX_QUEUE_SIZE", "value": "4096"}},
		"networkPolicy":      map[string]any{"to": collector, "ports": []any{4318}},
	}
	return vals
}

// TestTracingEnv: with tracing on, authproxy (own Deployment and sidecar), catalog and inventory
// get the same OTEL_* variables from the values, each with its own OTEL_SERVICE_NAME.
func TestTracingEnv(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	for _, file := range []string{"traefik-values.yaml", sidecarValuesFile} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			vals := tracingValues(t, readValues(t, filepath.Join(chartDir, "ci", file)), nil)
			r := renderScenario(t, ch, scenario{Name: "tracing-" + file, Release: "gw", Values: vals})
			shared := map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc.cluster.local:4318",
				"OTEL_TRACES_SAMPLER":         "parentbased_traceidratio",
				"OTEL_TRACES_SAMPLER_ARG":     "0.25",
				"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=ci,note=a%2Cb=c 50%25,team=platform",
				"OTEL_BSP_MAX_QUEUE_SIZE":     "4096",
			}
			want := map[string]map[string]string{}
			for _, c := range []string{"authproxy", "catalog", "inventory"} {
				want[c] = maps.Clone(shared)
				want[c]["OTEL_SERVICE_NAME"] = c
			}
			if diff := cmp.Diff(want, otelEnv(t, r)); diff != "" {
				t.Errorf("OTEL_* variables by component (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTracingMinimal: only an endpoint sets the endpoint and the service name, and leaves the
// sampler and the resource to the SDK's defaults.
func TestTracingMinimal(t *testing.T) {
	t.Parallel()
	vals := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	vals["tracing"] = map[string]any{"enabled": true, "otlpEndpoint": "https://collector.example:4318"}
	r := renderScenario(t, loadChart(t), scenario{Name: "tracing-minimal", Release: "gw", Values: vals})
	want := map[string]map[string]string{}
	for _, c := range []string{"authproxy", "catalog", "inventory"} {
		want[c] = map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318", "OTEL_SERVICE_NAME": c}
	}
	if diff := cmp.Diff(want, otelEnv(t, r)); diff != "" {
		t.Errorf("OTEL_* variables by component (-want +got):\n%s", diff)
	}
}

// TestTracingValuesRefused: values that cannot export are refused at render time.
func TestTracingValuesRefused(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	for name, tc := range map[string]struct {
		tracing map[string]any
		want    string
	}{
		"no endpoint":      {map[string]any{"enabled": true}, "otlpEndpoint"},
		"endpoint no URL":  {map[string]any{"enabled": true, "otlpEndpoint": "otel-collector:4318"}, "otlpEndpoint"},
		"attribute key":    {map[string]any{"enabled": true, "otlpEndpoint": "http://c:4318", "resourceAttributes": map[string]any{"a,b": "x"}}, "a,b"},
		"unknown sampler":  {map[string]any{"enabled": true, "otlpEndpoint": "http://c:4318", "sampler": "sometimes"}, "sampler"},
		"env without name": {map[string]any{"enabled": true, "otlpEndpoint": "http://c:4318", "env": []any{map[string]any{"value": "x"}}}, "env"},
		"env not OTEL_":    {map[string]any{"enabled": true, "otlpEndpoint": "http://c:4318", "env": []any{map[string]any{"name": "HOME", "value": "/"}}}, "HOME"},
		"no ports":         {map[string]any{"enabled": true, "otlpEndpoint": "http://c:4318", "networkPolicy": map[string]any{"ports": []any{}}}, "ports"},
	} {
		vals := deepCopy(t, base)
		vals["tracing"] = tc.tracing
		_, err := renderValues(context.Background(), ch, "gw", testNS, vals)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: render error %v, want one naming %q", name, err, tc.want)
		}
	}
}

// TestTracingNetworkPolicy: with tracing on, authproxy, catalog and inventory may reach the
// collector named by tracing.networkPolicy.to on its OTLP/HTTP port, and nothing else through
// that rule; with no peer named, any destination on that port. Off, the collector is not reachable.
func TestTracingNetworkPolicy(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	w := newWorld()
	collector := peer{"otel-collector", "observability", map[string]string{"app.kubernetes.io/name": "opentelemetry-collector"}, "10.244.7.10"}
	otherObs := peer{"other-in-observability", "observability", map[string]string{"app.kubernetes.io/name": "grafana"}, "10.244.7.11"}
	peers := []any{map[string]any{
		"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "observability"}},
		"podSelector":       map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "opentelemetry-collector"}},
	}}
	for _, tc := range []struct {
		name    string
		file    string
		tracing bool
		to      []any
	}{
		{"deployment", "traefik-values.yaml", true, peers},
		{"deployment-any-destination", "traefik-values.yaml", true, nil},
		{"sidecar", sidecarValuesFile, true, peers},
		{"off", "traefik-values.yaml", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vals := readValues(t, filepath.Join(chartDir, "ci", tc.file))
			if tc.tracing {
				vals = tracingValues(t, vals, tc.to)
			}
			r := renderScenario(t, ch, scenario{Name: "tracing-" + tc.name, Release: "gw", Values: vals})
			p := chartPeers(t, r, w.traefikPod)
			senders := []string{"authproxy", "catalog", "inventory"}
			if r.sidecar() {
				// authproxy runs in the ingress controller's pods, under the controller's policies.
				senders = []string{"catalog", "inventory"}
			}
			var flows []flow
			for _, c := range senders {
				flows = append(flows,
					tcp(p[c], collector, 4318, "otlp-http", tc.tracing),
					tcp(p[c], collector, 4317, "otlp-grpc", false),
					tcp(p[c], otherObs, 4318, "otlp-http", tc.tracing && len(tc.to) == 0),
					tcp(p[c], w.internet, 4318, "otlp-http", tc.tracing && len(tc.to) == 0),
					tcp(p[c], w.internet, 443, "https", false),
				)
			}
			checkFlows(t, chartPolicy(r), flows)
		})
	}
}
