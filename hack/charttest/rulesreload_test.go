package charttest

import (
	"maps"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestRenderRulesReload: with authproxy.rulesReload (the default) a change of the route rules
// changes the rules ConfigMap and nothing in authproxy's pod template, so no pod rolls (they
// reload the file); with it off the pod template carries the rules' checksum and every rules
// change rolls the pods. authproxy is told which, by AUTHPROXY_RULES_RELOAD.
func TestRenderRulesReload(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	otherRules := []any{map[string]any{
		"name": "only", "match": map[string]any{"path": "/only/**"}, "access": "public", "upstream": "catalog",
	}}
	tests := []struct {
		name       string
		reload     any // nil = the default
		wantEnv    string
		wantRollOn bool // a rules change changes the pod template
	}{
		{name: "default: reload", reload: nil, wantEnv: "true"},
		{name: "reload on", reload: true, wantEnv: "true"},
		{name: "reload off", reload: false, wantEnv: "false", wantRollOn: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vals := deepCopy(t, base)
			if tc.reload != nil {
				vals = withValue(t, vals, "authproxy", "rulesReload", tc.reload)
			}
			before := renderScenario(t, ch, scenario{Name: tc.name, Release: "gw", Values: vals})
			after := renderScenario(t, ch, scenario{Name: tc.name + " rules changed", Release: "gw", Values: withValue(t, vals, "authproxy", "rules", otherRules)})

			cm := func(r *rendered) string {
				return mustFind(t, r, "ConfigMap", "gw-gatewarden-authproxy").Typed.(*corev1.ConfigMap).Data["rules.yaml"]
			}
			if cm(before) == cm(after) {
				t.Fatalf("the rules ConfigMap did not change with the rules:\n%s", cm(after))
			}
			pod := func(r *rendered) corev1.PodTemplateSpec {
				return mustFind(t, r, "Deployment", "gw-gatewarden-authproxy").Typed.(*appsv1.Deployment).Spec.Template
			}
			b, a := pod(before), pod(after)
			if rolled := !maps.Equal(b.Annotations, a.Annotations); rolled != tc.wantRollOn {
				t.Errorf("pod template annotations changed with the rules: %v, want %v\nbefore %v\nafter  %v", rolled, tc.wantRollOn, b.Annotations, a.Annotations)
			}
			if _, ok := b.Annotations["checksum/rules"]; ok != tc.wantRollOn {
				t.Errorf("checksum/rules present: %v, want %v (%v)", ok, tc.wantRollOn, b.Annotations)
			}
			env := ""
			for _, e := range b.Spec.Containers[0].Env {
				if e.Name == "AUTHPROXY_RULES_RELOAD" {
					env = e.Value
				}
			}
			if env != tc.wantEnv {
				t.Errorf("AUTHPROXY_RULES_RELOAD = %q, want %q", env, tc.wantEnv)
			}
		})
	}
}
