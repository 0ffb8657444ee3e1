package charttest

import (
	"path"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestWebhookHMACKey (issue 10): authproxy.webhook.hmacKey names an
// existing Secret holding FusionAuth's webhook HMAC key; with the webhook
// on, its key is projected into authproxy's secrets volume and
// AUTHPROXY_WEBHOOK_HMAC_KEY_FILE names the file the container sees there.
// Without the Secret, or with the webhook off, neither is rendered (the
// JWKS verifies the webhook).
func TestWebhookHMACKey(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	tests := []struct {
		name    string
		webhook map[string]any
		want    bool
	}{
		{name: "hmac key", want: true, webhook: map[string]any{"enabled": true, "hmacKey": map[string]any{"existingSecret": "fa-webhook", "key": "hmac"}}},
		{name: "jwks (no hmac key)", webhook: map[string]any{"enabled": true}},
		{name: "webhook off", webhook: map[string]any{"enabled": false, "hmacKey": map[string]any{"existingSecret": "fa-webhook", "key": "hmac"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vals := deepCopy(t, base)
			vals["authproxy"].(map[string]any)["webhook"] = tt.webhook
			r := renderScenario(t, ch, scenario{Name: tt.name, Release: "gw", Values: vals})
			defer writeDebug(t, r)
			env, _ := r.authproxyEnv()
			file, set := env["AUTHPROXY_WEBHOOK_HMAC_KEY_FILE"]
			if set != tt.want {
				t.Fatalf("AUTHPROXY_WEBHOOK_HMAC_KEY_FILE set %v (%q), want %v", set, file, tt.want)
			}
			d, ok := r.find("Deployment", "gw-gatewarden-authproxy")
			if !ok {
				t.Fatal("no authproxy Deployment")
			}
			spec := d.Typed.(*appsv1.Deployment).Spec.Template.Spec
			mounts := map[string]string{} // volume -> mount path
			for _, m := range spec.Containers[0].VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
			var projected []string // the files the Secret fa-webhook lands as
			for _, v := range spec.Volumes {
				if v.Projected == nil {
					continue
				}
				for _, src := range v.Projected.Sources {
					if src.Secret == nil || src.Secret.Name != "fa-webhook" {
						continue
					}
					for _, it := range src.Secret.Items {
						if it.Key != "hmac" {
							t.Errorf("Secret key %q projected, want hmac", it.Key)
						}
						projected = append(projected, path.Join(mounts[v.Name], it.Path))
					}
				}
			}
			if !tt.want {
				if len(projected) != 0 {
					t.Errorf("HMAC Secret projected as %v, want nowhere", projected)
				}
				return
			}
			if len(projected) != 1 || projected[0] != file {
				t.Errorf("HMAC Secret lands at %v, the env names %q; want exactly that file", projected, file)
			}
		})
	}
}
