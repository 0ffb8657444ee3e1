package charttest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// renderLoose renders vals and decodes every manifest as unstructured (the prometheus-operator
// kinds have no Go types here; their shape is checked field by field below).
func renderLoose(t *testing.T, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	manifests, err := renderValues(context.Background(), loadChart(t), "gw", testNS, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var out []*unstructured.Unstructured
	for _, doc := range manifests {
		if strings.TrimSpace(sourceRe.ReplaceAllString(doc, "")) == "" {
			continue
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("yaml: %v\n%s", err, doc)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// metricsValues turns on the ServiceMonitor, the PrometheusRule and the dashboard on top of base.
func metricsValues(t *testing.T, base map[string]any) map[string]any {
	t.Helper()
	vals := deepCopy(t, base)
	vals["metrics"] = map[string]any{
		"serviceMonitor":   map[string]any{"enabled": true, "labels": map[string]any{"release": "kps"}},
		"prometheusRule":   map[string]any{"enabled": true, "labels": map[string]any{"release": "kps"}},
		"grafanaDashboard": map[string]any{"enabled": true, "namespace": "grafana"},
	}
	return vals
}

// TestMetricsOffByDefault: no scenario's values render a monitoring object.
func TestMetricsOffByDefault(t *testing.T) {
	t.Parallel()
	objs := renderLoose(t, readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml")))
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		if n := len(ofKind(objs, kind)); n != 0 {
			t.Errorf("%d %s rendered with metrics off", n, kind)
		}
	}
	for _, cm := range ofKind(objs, "ConfigMap") {
		if _, ok := cm.GetLabels()["grafana_dashboard"]; ok {
			t.Errorf("dashboard ConfigMap %s rendered with metrics off", cm.GetName())
		}
	}
}

// TestServiceMonitorSelectsComponents: the ServiceMonitor's selector and namespaces pick exactly
// the Services of authproxy, catalog and inventory, which serve /metrics on the port it names,
// with authproxy's own Deployment and as a sidecar of the ingress controller.
func TestServiceMonitorSelectsComponents(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, values string
	}{
		{name: "deployment", values: "traefik-values.yaml"},
		{name: "sidecar", values: "traefik-sidecar-values.yaml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs := renderLoose(t, metricsValues(t, readValues(t, filepath.Join(chartDir, "ci", tt.values))))
			sms := ofKind(objs, "ServiceMonitor")
			if len(sms) != 1 {
				t.Fatalf("%d ServiceMonitors, want 1", len(sms))
			}
			sm := sms[0]
			if sm.GetLabels()["release"] != "kps" {
				t.Errorf("ServiceMonitor labels %v lack metrics.serviceMonitor.labels", sm.GetLabels())
			}
			namespaces, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
			selMap, _, _ := unstructured.NestedMap(sm.Object, "spec", "selector")
			var ls metav1.LabelSelector
			if err := runtimeConvert(selMap, &ls); err != nil {
				t.Fatal(err)
			}
			sel, err := metav1.LabelSelectorAsSelector(&ls)
			if err != nil {
				t.Fatal(err)
			}
			endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
			if len(endpoints) != 1 {
				t.Fatalf("%d endpoints, want 1", len(endpoints))
			}
			port, _, _ := unstructured.NestedString(endpoints[0].(map[string]any), "port")
			path, _, _ := unstructured.NestedString(endpoints[0].(map[string]any), "path")
			if path != "/metrics" {
				t.Errorf("endpoint path %q, want /metrics", path)
			}
			var selected []string
			for _, svc := range ofKind(objs, "Service") {
				if !sel.Matches(labels.Set(svc.GetLabels())) || !slices.Contains(namespaces, svc.GetNamespace()) {
					continue
				}
				selected = append(selected, svc.GetLabels()["app.kubernetes.io/component"])
				ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
				if !slices.ContainsFunc(ports, func(p any) bool { return p.(map[string]any)["name"] == port }) {
					t.Errorf("Service %s/%s has no port %q", svc.GetNamespace(), svc.GetName(), port)
				}
			}
			slices.Sort(selected)
			if d := cmp.Diff([]string{"authproxy", "catalog", "inventory"}, selected); d != "" {
				t.Errorf("Services selected (-want +got):\n%s", d)
			}
		})
	}
}

// runtimeConvert converts an unstructured map into a typed value through JSON.
func runtimeConvert(m map[string]any, out any) error {
	b, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, out)
}

// TestPrometheusRuleIsTheRuleFile: the PrometheusRule's spec is files/prometheus-rules.yaml as
// it is (the file hack/promtest loads into a real Prometheus), and the dashboard ConfigMap holds
// files/grafana-dashboard.json byte for byte, with the sidecar's label, in the namespace asked.
func TestPrometheusRuleIsTheRuleFile(t *testing.T) {
	t.Parallel()
	objs := renderLoose(t, metricsValues(t, readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))))
	rules := ofKind(objs, "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(rules))
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "files", "prometheus-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, rules[0].Object["spec"]); d != "" {
		t.Errorf("PrometheusRule spec differs from files/prometheus-rules.yaml (-file +rendered):\n%s", d)
	}
	if rules[0].GetLabels()["release"] != "kps" {
		t.Errorf("PrometheusRule labels %v lack metrics.prometheusRule.labels", rules[0].GetLabels())
	}

	dash, err := os.ReadFile(filepath.Join(chartDir, "files", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, cm := range ofKind(objs, "ConfigMap") {
		if cm.GetLabels()["grafana_dashboard"] != "1" {
			continue
		}
		found = true
		if cm.GetNamespace() != "grafana" {
			t.Errorf("dashboard ConfigMap namespace %q, want grafana", cm.GetNamespace())
		}
		got, _, _ := unstructured.NestedString(cm.Object, "data", "gatewarden.json")
		if got != strings.TrimSuffix(string(dash), "\n") {
			t.Errorf("dashboard ConfigMap data differs from files/grafana-dashboard.json")
		}
	}
	if !found {
		t.Error("no ConfigMap with label grafana_dashboard=1")
	}
}
