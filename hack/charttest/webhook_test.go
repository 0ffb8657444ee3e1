package charttest

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestWebhookListener (issue 10): with authproxy.webhook.enabled (or
// backChannelLogout) authproxy serves the identity provider's calls on
// their own port: the env names the listener, the container and the
// Service carry the port "webhook", and the NetworkPolicy admits that port
// from FusionAuth's namespace (and pods, when given) and from nobody else.
// Off, none of it is rendered.
func TestWebhookListener(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	tests := []struct {
		name     string
		webhook  map[string]any
		backChan bool
		want     bool
		wantEnv  map[string]string
	}{
		{name: "off", webhook: map[string]any{"enabled": false}},
		{name: "webhook", want: true, webhook: map[string]any{"enabled": true, "tenantId": "t-1", "fromPodLabels": map[string]any{"app.kubernetes.io/name": "fusionauth"}},
			wantEnv: map[string]string{"AUTHPROXY_WEBHOOK_ENABLED": "true", "AUTHPROXY_WEBHOOK_TENANT_ID": "t-1", "AUTHPROXY_WEBHOOK_LISTEN": ":4181"}},
		{name: "back-channel logout only, another port", backChan: true, want: true, webhook: map[string]any{"port": 9443},
			wantEnv: map[string]string{"AUTHPROXY_BACKCHANNEL_LOGOUT_ENABLED": "true", "AUTHPROXY_WEBHOOK_LISTEN": ":9443"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vals := deepCopy(t, base)
			ap := vals["authproxy"].(map[string]any)
			ap["webhook"], ap["backChannelLogout"] = tt.webhook, tt.backChan
			r := renderScenario(t, ch, scenario{Name: tt.name, Release: "gw", Values: vals})
			defer writeDebug(t, r)
			port := int32(4181)
			if p, ok := tt.webhook["port"].(int); ok {
				port = int32(p)
			}
			env, _ := r.authproxyEnv()
			for k, v := range tt.wantEnv {
				if env[k] != v {
					t.Errorf("env %s = %q, want %q", k, env[k], v)
				}
			}
			if _, ok := env["AUTHPROXY_WEBHOOK_LISTEN"]; ok != tt.want {
				t.Errorf("AUTHPROXY_WEBHOOK_LISTEN set %v, want %v", ok, tt.want)
			}

			d, ok := r.find("Deployment", "gw-gatewarden-authproxy")
			if !ok {
				t.Fatal("no authproxy Deployment")
			}
			containerPort := false
			for _, p := range d.Typed.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Ports {
				if p.Name == "webhook" && p.ContainerPort == port {
					containerPort = true
				}
			}
			svc, ok := r.find("Service", "gw-gatewarden-authproxy")
			if !ok {
				t.Fatal("no authproxy Service")
			}
			servicePort := false
			for _, p := range svc.Typed.(*corev1.Service).Spec.Ports {
				if p.Name == "webhook" && p.Port == port && p.TargetPort.IntVal == port {
					servicePort = true
				}
			}
			if containerPort != tt.want || servicePort != tt.want {
				t.Errorf("container port %v, Service port %v; want both %v", containerPort, servicePort, tt.want)
			}

			np, ok := r.find("NetworkPolicy", "gw-gatewarden-authproxy")
			if !ok {
				t.Fatal("no authproxy NetworkPolicy")
			}
			var rules []networkingv1.NetworkPolicyIngressRule
			for _, in := range np.Typed.(*networkingv1.NetworkPolicy).Spec.Ingress {
				for _, p := range in.Ports {
					if p.Port != nil && p.Port.IntVal == port {
						rules = append(rules, in)
					}
				}
			}
			if !tt.want {
				if len(rules) != 0 {
					t.Errorf("webhook port open while off: %+v", rules)
				}
				return
			}
			if len(rules) != 1 || len(rules[0].From) != 1 {
				t.Fatalf("ingress rules for port %d: %+v, want one with one peer", port, rules)
			}
			peer := rules[0].From[0]
			if peer.NamespaceSelector == nil || peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "fusionauth" {
				t.Errorf("peer %+v, want FusionAuth's namespace", peer)
			}
			wantPods, _ := tt.webhook["fromPodLabels"].(map[string]any)
			if (peer.PodSelector != nil) != (len(wantPods) > 0) {
				t.Errorf("pod selector %+v, want one exactly when fromPodLabels is set", peer.PodSelector)
			}
		})
	}
}

// TestWebhookPeers (issue 10): the webhook port's peers. fromIPBlocks adds
// ipBlock peers (a provider outside the cluster), alone when
// fromNamespaceLabels is null; fromNamespaceLabels {} (every namespace) is
// refused by the schema (Helm merges a user's {} with the default labels,
// so the schema sees one only where no default fills it: checked on the
// values directly), and no peer at all by the template; in sidecar
// mode, where the chart renders no policy for the ingress controller's
// pod, the webhook with networkPolicy.enabled fails the render, and
// renders with networkPolicy.enabled=false (the operator restricts it).
func TestWebhookPeers(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	sidecar := readValues(t, filepath.Join(chartDir, "ci", sidecarValuesFile))
	tests := []struct {
		name      string
		base      map[string]any
		webhook   map[string]any
		noPolicy  bool
		wantErr   string   // a render error containing this
		wantNS    bool     // a namespace peer
		wantCIDRs []string // ipBlock peers
	}{
		{name: "namespace and addresses", base: base, webhook: map[string]any{"enabled": true, "fromIPBlocks": []any{"203.0.113.7/32", "2001:db8::/64"}},
			wantNS: true, wantCIDRs: []string{"203.0.113.7/32", "2001:db8::/64"}},
		{name: "addresses only", base: base, webhook: map[string]any{"enabled": true, "fromNamespaceLabels": nil, "fromIPBlocks": []any{"203.0.113.7/32"}},
			wantCIDRs: []string{"203.0.113.7/32"}},
		{name: "no peer refused", base: base, webhook: map[string]any{"enabled": true, "fromNamespaceLabels": nil},
			wantErr: "open to every namespace"},
		{name: "not a CIDR", base: base, webhook: map[string]any{"enabled": true, "fromIPBlocks": []any{"fusionauth.example"}},
			wantErr: "fromIPBlocks"},
		{name: "sidecar refused", base: sidecar, webhook: map[string]any{"enabled": true},
			wantErr: "nothing restricts port 4181 on the ingress controller's pod"},
		{name: "sidecar without policies", base: sidecar, webhook: map[string]any{"enabled": true}, noPolicy: true},
	}
	t.Run("every namespace refused by the schema", func(t *testing.T) {
		t.Parallel()
		vals := deepCopy(t, ch.Values)
		vals["authproxy"].(map[string]any)["webhook"].(map[string]any)["fromNamespaceLabels"] = map[string]any{}
		if err := chartutil.ValidateAgainstSchema(ch, vals); err == nil || !strings.Contains(err.Error(), "fromNamespaceLabels") {
			t.Errorf("schema error = %v, want one about fromNamespaceLabels", err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vals := deepCopy(t, tt.base)
			vals["authproxy"].(map[string]any)["webhook"] = tt.webhook
			if tt.noPolicy {
				np, _ := vals["networkPolicy"].(map[string]any)
				if np == nil {
					np = map[string]any{}
					vals["networkPolicy"] = np
				}
				np["enabled"] = false
			}
			if tt.wantErr != "" {
				_, err := renderValues(context.Background(), ch, "gw", testNS, vals)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("render error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			r := renderScenario(t, ch, scenario{Name: tt.name, Release: "gw", Values: vals})
			defer writeDebug(t, r)
			if tt.noPolicy {
				return // rendered: nothing more to see
			}
			np := mustFind(t, r, "NetworkPolicy", "gw-gatewarden-authproxy").Typed.(*networkingv1.NetworkPolicy)
			var peers []networkingv1.NetworkPolicyPeer
			for _, in := range np.Spec.Ingress {
				for _, p := range in.Ports {
					if p.Port != nil && p.Port.IntVal == 4181 {
						peers = append(peers, in.From...)
					}
				}
			}
			ns := false
			var cidrs []string
			for _, p := range peers {
				switch {
				case p.IPBlock != nil:
					cidrs = append(cidrs, p.IPBlock.CIDR)
				case p.NamespaceSelector != nil && len(p.NamespaceSelector.MatchLabels) > 0:
					ns = true
				default:
					t.Errorf("peer %+v: neither a labelled namespace nor an ipBlock", p)
				}
			}
			if ns != tt.wantNS || !slices.Equal(cidrs, tt.wantCIDRs) {
				t.Errorf("webhook peers: namespace %v, CIDRs %v; want %v, %v", ns, cidrs, tt.wantNS, tt.wantCIDRs)
			}
		})
	}
}
