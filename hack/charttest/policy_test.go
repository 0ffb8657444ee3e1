package charttest

import (
	"fmt"
	"maps"
	"path/filepath"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// peer is one end of a connection: a pod (namespace + labels + IP) or, with no namespace, an
// address outside the cluster.
type peer struct {
	Name   string
	NS     string
	Labels map[string]string
	IP     string
}

func (p peer) traffic() *matcher.TrafficPeer {
	if p.NS == "" {
		return &matcher.TrafficPeer{IP: p.IP}
	}
	return &matcher.TrafficPeer{IP: p.IP, Internal: &matcher.InternalPeer{
		Namespace:       p.NS,
		NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": p.NS}, // set by the apiserver on every namespace
		PodLabels:       p.Labels,
	}}
}

// world holds the peers outside the release, with the labels their real charts give them.
type world struct {
	traefikPod, envoyPod, envoyGatewayController, nginxPod, nginxAdmission, fusionAuthPod, postgresPod, kubeDNS, otherNSPod, otherNSTraefikLookalike, sameNSStray, sameNSTraefikLookalike, prometheusPod, sentinelRedis, internet peer
}

func newWorld() world {
	return world{

		traefikPod: peer{"traefik", "traefik", map[string]string{"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-traefik"}, "10.244.1.10"},
		envoyPod: peer{"envoy-proxy", "envoy-gateway-system", map[string]string{
			"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway",
			"gateway.envoyproxy.io/owning-gateway-name": "eg",
		}, "10.244.1.11"},
		envoyGatewayController:  peer{"envoy-gateway-controller", "envoy-gateway-system", map[string]string{"app.kubernetes.io/name": "gateway-helm", "control-plane": "envoy-gateway"}, "10.244.1.14"},
		nginxPod:                peer{"ingress-nginx", "ingress-nginx", map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller", "app.kubernetes.io/instance": "ingress-nginx"}, "10.244.1.12"},
		nginxAdmission:          peer{"ingress-nginx-admission", "ingress-nginx", map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "admission-webhook"}, "10.244.1.13"},
		fusionAuthPod:           peer{"fusionauth", "fusionauth", map[string]string{"app.kubernetes.io/name": "fusionauth", "app.kubernetes.io/instance": "fusionauth"}, "10.244.2.10"},
		postgresPod:             peer{"postgres", "fusionauth", map[string]string{"app.kubernetes.io/name": "postgres"}, "10.244.2.11"},
		kubeDNS:                 peer{"kube-dns", "kube-system", map[string]string{"k8s-app": "kube-dns"}, "10.244.0.5"},
		otherNSPod:              peer{"pod-in-other-namespace", "attacker", map[string]string{"app": "curl"}, "10.244.3.10"},
		otherNSTraefikLookalike: peer{"traefik-lookalike-in-other-namespace", "attacker", map[string]string{"app.kubernetes.io/name": "traefik"}, "10.244.3.11"},
		sameNSStray:             peer{"stray-pod-in-release-namespace", testNS, map[string]string{"app": "debug"}, "10.244.4.10"},
		sameNSTraefikLookalike:  peer{"traefik-lookalike-in-release-namespace", testNS, map[string]string{"app.kubernetes.io/name": "traefik"}, "10.244.4.11"},
		prometheusPod:           peer{"prometheus", "monitoring", map[string]string{"app.kubernetes.io/name": "prometheus"}, "10.244.5.10"},
		sentinelRedis:           peer{"external-redis", "data", map[string]string{"app.kubernetes.io/name": "redis"}, "10.244.6.10"},
		internet:                peer{Name: "internet", IP: "93.184.216.34"},
	}
}

// chartPeers returns the release's pods (authproxy, catalog, inventory and, when rendered,
// redis) with the labels the chart gives them. In sidecar mode authproxy is a container of the
// ingress controller's pods: "authproxy" is then the controller peer given, which must carry
// authproxy.sidecar.podLabels in authproxy.sidecar.namespace.
func chartPeers(t *testing.T, r *rendered, controller ...peer) map[string]peer {
	t.Helper()
	out := map[string]peer{}
	for i, pt := range r.podTemplates() {
		c := pt.Labels["app.kubernetes.io/component"]
		if c == "" {
			t.Fatalf("%s: pod template has no app.kubernetes.io/component label", pt)
		}
		out[c] = peer{c, testNS, maps.Clone(pt.Labels), fmt.Sprintf("10.244.4.%d", 100+i)}
	}
	if r.sidecar() {
		if _, ok := out["authproxy"]; ok {
			t.Fatal("sidecar mode renders authproxy pods")
		}
		if len(controller) != 1 {
			t.Fatal("sidecar mode: give the ingress controller's pod, which runs authproxy")
		}
		c := controller[0]
		for k, v := range r.sidecarPodLabels() {
			if c.Labels[k] != v || c.NS != r.sidecarNamespace() {
				t.Fatalf("peer %s (%s %v) is not a pod the sidecar values name (%s %v)", c.Name, c.NS, c.Labels, r.sidecarNamespace(), r.sidecarPodLabels())
			}
		}
		out["authproxy"] = c
	}
	for _, c := range []string{"authproxy", "catalog", "inventory"} {
		if _, ok := out[c]; !ok {
			t.Fatalf("no %s pods rendered", c)
		}
	}
	return out
}

func chartPolicy(r *rendered) *matcher.Policy {
	var nps []*networkingv1.NetworkPolicy
	for _, o := range r.byKind("NetworkPolicy") {
		nps = append(nps, o.Typed.(*networkingv1.NetworkPolicy))
	}
	return matcher.BuildNetworkPolicies(false, nps)
}

type flow struct {
	from, to peer
	port     int
	portName string
	proto    corev1.Protocol
	allowed  bool
}

func (f flow) String() string {
	verdict := "denied"
	if f.allowed {
		verdict = "allowed"
	}
	return fmt.Sprintf("%s -> %s %d/%s %s", f.from.Name, f.to.Name, f.port, f.proto, verdict)
}

func tcp(from, to peer, port int, name string, allowed bool) flow {
	return flow{from, to, port, name, corev1.ProtocolTCP, allowed}
}

func udp(from, to peer, port int, allowed bool) flow {
	return flow{from, to, port, "", corev1.ProtocolUDP, allowed}
}

func checkFlows(t *testing.T, policy *matcher.Policy, flows []flow) {
	t.Helper()
	for _, f := range flows {
		t.Run(f.String(), func(t *testing.T) {
			res := policy.IsTrafficAllowed(&matcher.Traffic{
				Source: f.from.traffic(), Destination: f.to.traffic(),
				ResolvedPort: f.port, ResolvedPortName: f.portName, Protocol: f.proto,
			})
			if res.IsAllowed() != f.allowed {
				t.Errorf("%s -> %s port %d/%s: allowed=%v (egress from source %v, ingress at destination %v), want %v",
					f.from.Name, f.to.Name, f.port, f.proto, res.IsAllowed(), res.Egress.IsAllowed(), res.Ingress.IsAllowed(), f.allowed)
			}
		})
	}
}

// commonFlows are the paths every configuration with the in-chart Redis (and, when rendered, the
// in-chart PostgreSQL) must open or close, given the ingress controller's pods.
func commonFlows(w world, p map[string]peer, ingress peer) []flow {
	ap, cat, inv, rd := p["authproxy"], p["catalog"], p["inventory"], p["redis"]
	flows := []flow{
		// Open: the ingress controller reaches the services and authproxy on their ports only.
		tcp(ingress, cat, 8080, "http", true),
		tcp(ingress, inv, 8080, "http", true),
		tcp(ingress, ap, 4180, "http", true),
		tcp(ingress, cat, 9090, "metrics", false),
		// Open: authproxy -> Redis and FusionAuth; services -> authproxy's JWKS.
		tcp(ap, rd, 6379, "redis", true),
		tcp(ap, w.fusionAuthPod, 9011, "http", true),
		tcp(cat, ap, 4180, "http", true),
		tcp(inv, ap, 4180, "http", true),
		// inventory accepts FusionAuth access tokens by default (fetches FusionAuth's JWKS).
		tcp(inv, w.fusionAuthPod, 9011, "http", true),
		// catalog does not (acceptAccessTokens false): no reason to reach FusionAuth.
		tcp(cat, w.fusionAuthPod, 9011, "http", false),
		// Closed: pods in other namespaces reach nothing of the release directly.
		tcp(w.otherNSPod, cat, 8080, "http", false),
		tcp(w.otherNSPod, inv, 8080, "http", false),
		tcp(w.otherNSPod, ap, 4180, "http", false),
		tcp(w.otherNSPod, rd, 6379, "redis", false),
		tcp(w.otherNSTraefikLookalike, cat, 8080, "http", false),
		tcp(w.otherNSTraefikLookalike, ap, 4180, "http", false),
		// Closed: only authproxy reaches Redis.
		tcp(cat, rd, 6379, "redis", false),
		tcp(inv, rd, 6379, "redis", false),
		tcp(ingress, rd, 6379, "redis", false),
		tcp(w.fusionAuthPod, rd, 6379, "redis", false),
		tcp(w.sameNSStray, rd, 6379, "redis", false),
		// Closed: services do not talk to each other; authproxy does not call them.
		tcp(cat, inv, 8080, "http", false),
		tcp(inv, cat, 8080, "http", false),
		tcp(ap, cat, 8080, "http", false),
		tcp(rd, ap, 4180, "http", false),
		// Closed: pods of the release namespace without the ingress controller's identity.
		tcp(w.sameNSStray, cat, 8080, "http", false),
		tcp(w.sameNSStray, inv, 8080, "http", false),
		tcp(w.sameNSStray, ap, 4180, "http", false),
		tcp(w.sameNSTraefikLookalike, cat, 8080, "http", false),
		// Closed: no egress to the internet or to other pods of FusionAuth's namespace.
		tcp(cat, w.internet, 443, "https", false),
		tcp(inv, w.internet, 443, "https", false),
		tcp(ap, w.internet, 443, "https", false),
		tcp(rd, w.internet, 443, "https", false),
		tcp(w.sameNSStray, w.internet, 443, "https", false),
		tcp(ap, w.postgresPod, 5432, "postgres", false),
		// Closed: nobody scrapes metrics unless networkPolicy.metricsFrom says so.
		tcp(w.prometheusPod, cat, 8080, "http", false),
		tcp(w.prometheusPod, ap, 4180, "http", false),
	}
	// Open: DNS (UDP and TCP) to kube-dns for authproxy and the services; closed elsewhere.
	for _, from := range []peer{ap, cat, inv} {
		flows = append(flows,
			udp(from, w.kubeDNS, 53, true),
			tcp(from, w.kubeDNS, 53, "dns-tcp", true),
			udp(from, w.otherNSPod, 53, false),
			udp(from, w.internet, 53, false),
		)
	}
	if pg, ok := p["postgresql"]; ok {
		flows = append(flows,
			// Open: catalog and inventory reach the release's PostgreSQL, and nothing else does.
			tcp(cat, pg, 5432, "postgres", true),
			tcp(inv, pg, 5432, "postgres", true),
			tcp(ap, pg, 5432, "postgres", false),
			tcp(ingress, pg, 5432, "postgres", false),
			tcp(rd, pg, 5432, "postgres", false),
			tcp(w.otherNSPod, pg, 5432, "postgres", false),
			tcp(w.sameNSStray, pg, 5432, "postgres", false),
			tcp(w.fusionAuthPod, pg, 5432, "postgres", false),
			// Closed: the services reach no other database, and PostgreSQL connects nowhere.
			tcp(cat, w.postgresPod, 5432, "postgres", false),
			tcp(inv, w.internet, 5432, "postgres", false),
			tcp(pg, w.internet, 443, "https", false),
			tcp(pg, cat, 8080, "http", false),
			udp(pg, w.kubeDNS, 53, false),
		)
	}
	return flows
}

// TestNetworkPolicies evaluates the rendered NetworkPolicies with cyclonus' policy engine against
// every path that must be open and every bypass that must be closed.
func TestNetworkPolicies(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	w := newWorld()
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	controllers := map[string]peer{"traefik": w.traefikPod, "gatewayAPI": w.envoyPod, "ingressNginx": w.nginxPod}
	for _, mode := range ingressModes() {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := renderScenario(t, ch, scenario{Name: mode, Release: "gw", Values: withMode(t, base, mode)})
			p := chartPeers(t, r)
			flows := commonFlows(w, p, controllers[mode])
			// The controllers of the other modes, and the non-proxy pods of the controller's
			// namespace, are not let in.
			for m, other := range controllers {
				if m != mode {
					flows = append(flows, tcp(other, p["catalog"], 8080, "http", false), tcp(other, p["authproxy"], 4180, "http", false))
				}
			}
			flows = append(flows,
				tcp(w.envoyGatewayController, p["catalog"], 8080, "http", false),
				tcp(w.nginxAdmission, p["catalog"], 8080, "http", false),
			)
			checkFlows(t, chartPolicy(r), flows)
		})
	}
	// Each denial above must come from the chart's policies, not from the engine: without them,
	// every one of those flows is allowed.
	t.Run("denials come from the chart", func(t *testing.T) {
		t.Parallel()
		r := renderScenario(t, ch, scenario{Name: "no-policies", Release: "gw", Values: base})
		var denied []flow
		for _, f := range commonFlows(w, chartPeers(t, r), w.traefikPod) {
			if !f.allowed {
				f.allowed = true
				denied = append(denied, f)
			}
		}
		checkFlows(t, matcher.BuildNetworkPolicies(false, nil), denied)
	})
	t.Run("catalog accepts access tokens", func(t *testing.T) {
		t.Parallel()
		vals := deepCopy(t, base)
		vals["catalog"] = map[string]any{"acceptAccessTokens": true}
		r := renderScenario(t, ch, scenario{Name: "catalog-access-tokens", Release: "gw", Values: vals})
		p := chartPeers(t, r)
		checkFlows(t, chartPolicy(r), []flow{
			tcp(p["catalog"], w.fusionAuthPod, 9011, "http", true),
			tcp(p["catalog"], w.postgresPod, 5432, "postgres", false),
			tcp(p["catalog"], w.internet, 443, "https", false),
		})
	})
	t.Run("mode none with ingressFrom", func(t *testing.T) {
		t.Parallel()
		r := renderScenario(t, ch, scenario{Name: "none", Release: "gw", Values: readValues(t, filepath.Join(chartDir, "ci", "dev-mode-values.yaml"))})
		p := chartPeers(t, r)
		caddy := peer{"caddy", "caddy", map[string]string{"app": "caddy"}, "10.244.7.10"}
		checkFlows(t, chartPolicy(r), []flow{
			tcp(caddy, p["catalog"], 8080, "http", true),
			tcp(caddy, p["inventory"], 8080, "http", true),
			tcp(caddy, p["authproxy"], 4180, "http", true),
			tcp(caddy, p["redis"], 6379, "redis", false),
			tcp(w.traefikPod, p["catalog"], 8080, "http", false),
			tcp(w.otherNSPod, p["authproxy"], 4180, "http", false),
			tcp(p["authproxy"], p["redis"], 6379, "redis", true),
			tcp(p["catalog"], p["redis"], 6379, "redis", false),
		})
	})
	t.Run("metrics scraping", func(t *testing.T) {
		t.Parallel()
		r := renderScenario(t, ch, scenario{Name: "metrics", Release: "gw", Values: readValues(t, filepath.Join(chartDir, "ci", "autoscaling-pdb-values.yaml"))})
		p := chartPeers(t, r)
		checkFlows(t, chartPolicy(r), []flow{
			tcp(w.prometheusPod, p["catalog"], 8080, "http", true),
			tcp(w.prometheusPod, p["inventory"], 8080, "http", true),
			tcp(w.prometheusPod, p["authproxy"], 4180, "http", true),
			tcp(w.prometheusPod, p["redis"], 6379, "redis", false),
			tcp(w.otherNSPod, p["catalog"], 8080, "http", false),
		})
	})
	t.Run("external redis sentinel", func(t *testing.T) {
		t.Parallel()
		r := renderScenario(t, ch, scenario{Name: "sentinel", Release: "gw", Values: readValues(t, filepath.Join(chartDir, "ci", "external-redis-sentinel-values.yaml"))})
		p := chartPeers(t, r)
		if _, ok := p["redis"]; ok {
			t.Fatal("redis.enabled=false still renders Redis pods")
		}
		faExternal := peer{Name: "fusionauth-outside-the-cluster", IP: "203.0.113.7"}
		ap, cat, inv := p["authproxy"], p["catalog"], p["inventory"]
		checkFlows(t, chartPolicy(r), []flow{
			tcp(ap, w.sentinelRedis, 6379, "redis", true),
			tcp(ap, w.sentinelRedis, 26379, "sentinel", true),
			tcp(ap, w.otherNSPod, 6379, "redis", false),
			tcp(ap, w.internet, 6379, "redis", false),
			tcp(cat, w.sentinelRedis, 6379, "redis", false),
			tcp(inv, w.sentinelRedis, 26379, "sentinel", false),
			tcp(ap, faExternal, 443, "https", true),
			tcp(ap, faExternal, 9011, "http", false),
			tcp(ap, w.fusionAuthPod, 9011, "http", false),
			tcp(inv, faExternal, 443, "https", true),
			tcp(cat, faExternal, 443, "https", false),
			tcp(ap, w.internet, 443, "https", false),
			tcp(w.traefikPod, ap, 4180, "http", true),
			tcp(w.otherNSPod, ap, 4180, "http", false),
			udp(ap, w.kubeDNS, 53, true),
		})
	})
	t.Run("authproxy sidecar in traefik", func(t *testing.T) {
		t.Parallel()
		r := renderScenario(t, ch, scenario{Name: "sidecar", Release: "gw", Values: readValues(t, filepath.Join(chartDir, "ci", sidecarValuesFile))})
		p := chartPeers(t, r, w.traefikPod)
		flows := sidecarFlows(w, p)
		checkFlows(t, chartPolicy(r), flows)
		// The openings are the sidecar's: with deployment mode's policies the ingress
		// controller's pods reach neither Redis nor, as authproxy, the services' JWKS client.
		dep := renderScenario(t, ch, scenario{Name: "deployment", Release: "gw", Values: base})
		var closed []flow
		for _, f := range flows {
			if f.allowed && (f.to.Name == p["redis"].Name || f.to.Name == w.traefikPod.Name) {
				f.allowed = false
				closed = append(closed, f)
			}
		}
		if len(closed) != 3 {
			t.Fatalf("%d sidecar openings, want 3 (traefik -> redis, catalog and inventory -> traefik)", len(closed))
		}
		// ... while authproxy's own labels, which sidecar mode shuts out, were the way in.
		closed = append(closed, tcp(formerAuthproxyPeer(), chartPeers(t, dep)["redis"], 6379, "redis", true))
		t.Run("closed in deployment mode", func(t *testing.T) { checkFlows(t, chartPolicy(dep), closed) })
		// And the denials are the chart's policies', not the engine's.
		var denied []flow
		for _, f := range flows {
			if !f.allowed {
				f.allowed = true
				denied = append(denied, f)
			}
		}
		t.Run("denials come from the chart", func(t *testing.T) { checkFlows(t, matcher.BuildNetworkPolicies(false, nil), denied) })
	})
	t.Run("external redis cluster", func(t *testing.T) {
		t.Parallel()
		r := renderScenario(t, ch, scenario{Name: "cluster", Release: "gw", Values: readValues(t, filepath.Join(chartDir, "ci", "external-redis-cluster-values.yaml"))})
		p := chartPeers(t, r)
		ap, cat := p["authproxy"], p["catalog"]
		checkFlows(t, chartPolicy(r), []flow{
			tcp(ap, peer{Name: "redis-node-10.20.0.11", IP: "10.20.0.11"}, 6379, "redis", true),
			tcp(ap, peer{Name: "redis-node-10.20.0.13", IP: "10.20.0.13"}, 6379, "redis", true),
			tcp(ap, peer{Name: "outside-the-redis-cidr", IP: "10.20.1.1"}, 6379, "redis", false),
			tcp(ap, peer{Name: "redis-node-10.20.0.11", IP: "10.20.0.11"}, 26379, "sentinel", false),
			tcp(cat, peer{Name: "redis-node-10.20.0.11", IP: "10.20.0.11"}, 6379, "redis", false),
			tcp(ap, w.fusionAuthPod, 9011, "http", true),
			// External databases: catalog and inventory reach them by CIDR on 5432, authproxy not.
			tcp(cat, peer{Name: "database-10.30.0.5", IP: "10.30.0.5"}, 5432, "postgres", true),
			tcp(p["inventory"], peer{Name: "database-10.30.0.5", IP: "10.30.0.5"}, 5432, "postgres", true),
			tcp(cat, peer{Name: "outside-the-database-cidr", IP: "10.30.1.5"}, 5432, "postgres", false),
			tcp(ap, peer{Name: "database-10.30.0.5", IP: "10.30.0.5"}, 5432, "postgres", false),
		})
		if _, ok := p["postgresql"]; ok {
			t.Error("external databases for both services still render the PostgreSQL StatefulSet")
		}
	})
}

// formerAuthproxyPeer is a pod of the release namespace with the labels authproxy's Deployment
// gives its pods (release gw): in sidecar mode it is nobody the policies should admit.
func formerAuthproxyPeer() peer {
	return peer{"authproxy-lookalike-in-release-namespace", testNS, map[string]string{
		"app.kubernetes.io/name": "gatewarden", "app.kubernetes.io/instance": "gw", "app.kubernetes.io/component": "authproxy",
	}, "10.244.4.20"}
}

// sidecarFlows are the paths of sidecar mode: authproxy is a container of Traefik's pods, so
// those pods (and only those: namespace and labels) reach Redis, and catalog and inventory reach
// them on authproxy's port for the JWKS. Every other intruder stays out.
func sidecarFlows(w world, p map[string]peer) []flow {
	traefik, cat, inv, rd := p["authproxy"], p["catalog"], p["inventory"], p["redis"]
	formerAuthproxy := formerAuthproxyPeer()
	return []flow{
		// Open: Traefik's pod (with the sidecar) -> Redis; the services -> the sidecar's JWKS.
		tcp(traefik, rd, 6379, "redis", true),
		tcp(cat, traefik, 4180, "http", true),
		tcp(inv, traefik, 4180, "http", true),
		// Open: Traefik -> the services, as in deployment mode.
		tcp(traefik, cat, 8080, "http", true),
		tcp(traefik, inv, 8080, "http", true),
		tcp(traefik, cat, 9090, "metrics", false),
		// Closed: lookalikes of Traefik elsewhere, authproxy's old labels, other pods -> Redis.
		tcp(w.otherNSTraefikLookalike, rd, 6379, "redis", false),
		tcp(w.sameNSTraefikLookalike, rd, 6379, "redis", false),
		tcp(formerAuthproxy, rd, 6379, "redis", false),
		tcp(w.otherNSPod, rd, 6379, "redis", false),
		tcp(w.nginxPod, rd, 6379, "redis", false),
		tcp(w.envoyPod, rd, 6379, "redis", false),
		tcp(w.sameNSStray, rd, 6379, "redis", false),
		tcp(cat, rd, 6379, "redis", false),
		tcp(inv, rd, 6379, "redis", false),
		tcp(w.fusionAuthPod, rd, 6379, "redis", false),
		// Closed: Traefik's pod on other Redis ports.
		tcp(traefik, rd, 6380, "redis-other", false),
		// Closed: the services' JWKS egress reaches only Traefik's pods, on 4180 only.
		tcp(cat, traefik, 9000, "traefik", false),
		tcp(cat, traefik, 8000, "web", false),
		tcp(cat, w.otherNSTraefikLookalike, 4180, "http", false),
		tcp(inv, w.sameNSTraefikLookalike, 4180, "http", false),
		tcp(cat, formerAuthproxy, 4180, "http", false),
		tcp(cat, w.otherNSPod, 4180, "http", false),
		tcp(inv, w.nginxPod, 4180, "http", false),
		// Closed: intruders -> the services, as in deployment mode.
		tcp(w.otherNSPod, cat, 8080, "http", false),
		tcp(w.otherNSTraefikLookalike, inv, 8080, "http", false),
		tcp(w.sameNSStray, cat, 8080, "http", false),
		tcp(formerAuthproxy, cat, 8080, "http", false),
	}
}
