package charttest

import (
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestRevocationFeedWiring: catalog and inventory read authproxy's
// revocation feed at the URL they already reach for its JWKS, with the
// values' interval and staleness bound, and authproxy keeps revocations
// for the values' retention; revocationFeed.enabled=false leaves the
// services without it.
func TestRevocationFeedWiring(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	for _, enabled := range []bool{true, false} {
		vals := deepCopy(t, base)
		vals["revocationFeed"] = map[string]any{"enabled": enabled, "pollInterval": "2s", "maxStale": "7s", "retention": "90m"}
		r := renderScenario(t, ch, scenario{Name: "revocation", Release: "gw", Values: vals})
		env := func(name string) map[string]string {
			t.Helper()
			o, ok := r.find("Deployment", name)
			if !ok {
				t.Fatalf("no Deployment %s", name)
			}
			var dep appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.U.Object, &dep); err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
				out[e.Name] = e.Value
			}
			return out
		}
		if got := env("gw-gatewarden-authproxy")["AUTHPROXY_REVOCATION_RETENTION"]; got != "90m" {
			t.Errorf("enabled=%v: authproxy AUTHPROXY_REVOCATION_RETENTION = %q, want 90m", enabled, got)
		}
		for _, svc := range []string{"catalog", "inventory"} {
			e := env("gw-gatewarden-" + svc)
			want := map[string]string{
				"REVOCATION_FEED_URL":      "http://gw-gatewarden-authproxy." + r.Scenario.namespace() + ".svc.cluster.local:4180/revocations",
				"REVOCATION_POLL_INTERVAL": "2s",
				"REVOCATION_MAX_STALE":     "7s",
			}
			for k, v := range want {
				got, ok := e[k]
				if enabled && got != v {
					t.Errorf("%s: %s = %q, want %q", svc, k, got, v)
				}
				if !enabled && ok {
					t.Errorf("%s with the feed off: %s = %q is set", svc, k, got)
				}
			}
		}
	}
}
