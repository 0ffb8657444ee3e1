package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatewarden/gatewarden/hack/cluster"
	"github.com/gatewarden/gatewarden/hack/cluster/deploy"
	"github.com/gatewarden/gatewarden/hack/e2e"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// target is the cluster as the shared checks see it: the gateway is Traefik's NodePort, the IdP
// the FusionAuth stand-in's Service, both reached from the host through the namespace. Nothing
// else is exposed (the services' ports are closed by NetworkPolicies, which the pod checks
// below prove).
func target() *e2e.Target {
	return &e2e.Target{GatewayURL: deploy.PublicURL, IdPURL: deploy.Issuer, ClientID: deploy.ClientID, Transport: dep.Transport}
}

// TestThroughTraefik runs the shared end-to-end checks (hack/e2e, the same code that runs
// through the local proxies) through the cluster's Traefik.
func TestThroughTraefik(t *testing.T) {
	requireCluster(t)
	e2e.Run(t, target())
	t.Run("login, role decision and logout", func(t *testing.T) { e2e.SessionRoundTrip(t, target()) })
}

// TestTrustedProxiesDerived: the chart's authproxy.trustedProxies is left empty here, and the
// install derived it from the node's pod range (not kind's), which Traefik's pods live in.
func TestTrustedProxiesDerived(t *testing.T) {
	requireCluster(t)
	requireOwnCluster(t)
	if sidecar() {
		cm, err := dep.Cluster.Client.CoreV1().ConfigMaps("traefik").Get(context.Background(), deploy.Release+"-authproxy-env", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cm.Data["AUTHPROXY_TRUSTED_PROXIES"], "127.0.0.1/32,::1/128"; got != want {
			t.Fatalf("sidecar AUTHPROXY_TRUSTED_PROXIES = %q, want loopback only %q", got, want)
		}
		return
	}
	d, err := dep.Cluster.Client.AppsV1().Deployments(deploy.Namespace).Get(context.Background(), deploy.Release+"-authproxy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "AUTHPROXY_TRUSTED_PROXIES" {
			got = e.Value
		}
	}
	if want := cluster.NodePodCIDR; got != want {
		t.Fatalf("AUTHPROXY_TRUSTED_PROXIES = %q, want the node's pod range %q", got, want)
	}
}

// Service names of the release (the chart's fullname is the release name here).
func svc(component string) string {
	return fmt.Sprintf("%s-%s.%s.svc.cluster.local", deploy.Release, component, deploy.Namespace)
}

// result is one line of the probe program's report (hack/cluster/cmd/probe).
type result struct {
	Target  string `json:"target"`
	Outcome string `json:"outcome"`
	Status  int    `json:"status"`
	Error   string `json:"error"`
}

// probe runs the probe program in a pod of namespace ns with labels and returns its result per
// target. The pod is restricted (non-root, read-only root, no capabilities) like the chart's.
func probe(t *testing.T, ns string, labels map[string]string, targets ...string) map[string]result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "probe-" + hex.EncodeToString(b)
	no, yes, uid := false, true, int64(65532)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "probe", Image: "gatewarden.local/probe:dev", ImagePullPolicy: corev1.PullNever,
				// kube-router adds a new pod's address to its sets within about a second.
				Args: append([]string{"-timeout=4s", "-delay=3s"}, targets...),
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	pods := dep.Cluster.Client.CoreV1().Pods(ns)
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create probe pod in %s: %v", ns, err)
	}
	defer func() { _ = pods.Delete(context.Background(), name, metav1.DeleteOptions{}) }()
	var msg string
	for {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("probe pod: %v", err)
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Terminated != nil {
					msg = cs.State.Terminated.Message
				}
			}
			if p.Status.Phase == corev1.PodFailed {
				t.Fatalf("probe pod failed: %s", msg)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("probe pod in %s did not finish: %v\n%s", ns, ctx.Err(), dep.Cluster.Diagnose(context.Background()))
		case <-time.After(300 * time.Millisecond):
		}
	}
	var rs []result
	if err := json.Unmarshal([]byte(msg), &rs); err != nil {
		t.Fatalf("probe report %q: %v", msg, err)
	}
	out := map[string]result{}
	for _, r := range rs {
		out[r.Target] = r
	}
	return out
}

// ingressPods are the namespace and labels of the ingress controller's pods, which the chart's
// policies admit: Traefik's (its chart's labels), or Envoy Gateway's proxies.
func ingressPods() (string, map[string]string) {
	if dep.Ingress == "gatewayAPI" {
		return "envoy-gateway-system", map[string]string{"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway"}
	}
	return "traefik", map[string]string{"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-traefik"}
}

// TestNetworkPolicies: a pod in another namespace, and a pod in Traefik's namespace without the
// controller's labels, cannot open a connection to catalog, inventory, authproxy, Redis or
// PostgreSQL; a pod with the controller's labels reaches catalog, inventory and authproxy (so the
// refusals come from policy, not from dead services) but not PostgreSQL (catalog and inventory
// do: the shared data checks read and write through them), nor Redis unless authproxy runs in
// the controller's pods.
func TestNetworkPolicies(t *testing.T) {
	requireCluster(t)
	ingressNS, ingressLabels := ingressPods()
	all := []string{"tcp:" + svc("catalog") + ":8080", "tcp:" + svc("inventory") + ":8080", "tcp:" + svc("authproxy") + ":4180", "tcp:" + svc("redis") + ":6379"}
	// The ingress controller's own pods reach Redis only when authproxy lives in them.
	ingressReachesRedis := sidecar()
	if sidecar() {
		// authproxy has no Service in the release namespace: it answers in Traefik's pods,
		// whose namespace the chart does not police.
		all = []string{all[0], all[1], all[3]}
	}
	// PostgreSQL admits catalog and inventory only, in both modes.
	all = append(all, "tcp:"+svc("postgresql")+":5432")
	tests := []struct {
		name      string
		namespace string
		labels    map[string]string
		reach     map[string]bool // target -> must connect
	}{
		{name: "pod in another namespace", namespace: "intruder", labels: map[string]string{"app": "intruder"}},
		{name: "pod in the ingress namespace without the controller's labels", namespace: ingressNS, labels: map[string]string{"app": "impostor"}},
		{name: "pod with the ingress controller's labels (control)", namespace: ingressNS, labels: ingressLabels,
			reach: map[string]bool{"tcp:" + svc("catalog") + ":8080": true, "tcp:" + svc("inventory") + ":8080": true,
				"tcp:" + svc("authproxy") + ":4180": true, "tcp:" + svc("redis") + ":6379": ingressReachesRedis}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := probe(t, tc.namespace, tc.labels, all...)
			for _, target := range all {
				r := got[target]
				switch {
				case r.Outcome == "dns-error" || r.Outcome == "error" || r.Outcome == "":
					t.Errorf("%s: %s %s: the probe proves nothing", target, r.Outcome, r.Error)
				case tc.reach[target] && r.Outcome != "connected":
					t.Errorf("%s: want a connection, got %s %s", target, r.Outcome, r.Error)
				case !tc.reach[target] && r.Outcome == "connected":
					t.Errorf("%s: connected, want refused or timed out", target)
				default:
					t.Logf("%s: %s", target, r.Outcome)
				}
			}
		})
	}
}

// TestControlRunWithoutPolicies: with networkPolicy.enabled=false the intruder's pod reaches
// catalog and meets its 401, which shows that the refusals above come from enforcement. The
// policies are back on at the end, and the intruder is refused again.
func TestControlRunWithoutPolicies(t *testing.T) {
	requireCluster(t)
	requireOwnCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	catalog := "http://" + svc("catalog") + ":8080/products"
	setPolicies := func(on bool) {
		t.Helper()
		if err := dep.Upgrade(ctx, func(v map[string]any) { v["networkPolicy"] = map[string]any{"enabled": on} }); err != nil {
			t.Fatalf("helm upgrade networkPolicy.enabled=%v: %v", on, err)
		}
		// kube-router applies policy changes within about a second.
		time.Sleep(3 * time.Second)
	}
	setPolicies(false)
	defer setPolicies(true)
	r := probe(t, "intruder", map[string]string{"app": "intruder"}, catalog)[catalog]
	if r.Outcome != "connected" || r.Status != http.StatusUnauthorized {
		t.Fatalf("without policies: want catalog's 401, got %s %d %s", r.Outcome, r.Status, r.Error)
	}
	setPolicies(true)
	r = probe(t, "intruder", map[string]string{"app": "intruder"}, catalog)[catalog]
	if r.Outcome == "connected" {
		t.Fatalf("policies back on: the intruder still reaches catalog (%d)", r.Status)
	}
}

// authproxyPods lists the running authproxy pods that are not terminating (after a rollout,
// the old pods still serve for their preStop pause).
func authproxyPods(t *testing.T) []corev1.Pod {
	t.Helper()
	pods, err := dep.Cluster.Client.CoreV1().Pods(deploy.Namespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/component=authproxy", FieldSelector: "status.phase=Running",
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// replicaClient talks to one authproxy pod directly (from the node, as kubelet's probes do; the
// node's bridge address is in the pod range, which authproxy trusts as a proxy).
func replicaClient(p corev1.Pod) *http.Client {
	addr := net.JoinHostPort(p.Status.PodIP, "4180")
	return &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dep.Cluster.Netns.DialContext(ctx, network, addr)
		}}}
}

// askReplica sends a forward-auth check (Traefik's dialect) for GET path with cookie to one
// replica and returns the status.
func askReplica(t *testing.T, p corev1.Pod, cookie, path string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://authproxy/authz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-Method", http.MethodGet)
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Host", "localhost")
	req.Header.Set("X-Forwarded-Uri", path)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", cookie)
	resp, err := replicaClient(p).Do(req)
	if err != nil {
		t.Fatalf("authz at %s: %v", p.Name, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLogoutSeenByOtherReplica: a session both authproxy replicas have just used (so both hold
// it in their cache) is logged out at one replica; the other refuses it at once, long before its
// cache entry would expire by itself.
func TestLogoutSeenByOtherReplica(t *testing.T) {
	requireCluster(t)
	requireOwnCluster(t)
	requireOwnPods(t)
	pods := authproxyPods(t)
	if len(pods) < 2 {
		t.Fatalf("%d authproxy pods running, want 2", len(pods))
	}
	a, b := pods[0], pods[1]
	c := target().Login(t, "admin@example.com")
	gw, err := url.Parse(deploy.PublicURL)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, ck := range c.Jar.Cookies(gw) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	cookie := strings.Join(parts, "; ")
	for _, p := range []corev1.Pod{a, b} {
		if st := askReplica(t, p, cookie, "/branches/1/products"); st != http.StatusOK {
			t.Fatalf("before logout, replica %s: want 200, got %d", p.Name, st)
		}
	}
	req, err := http.NewRequest(http.MethodPost, "http://localhost/oauth2/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", deploy.PublicURL)
	req.Header.Set("Cookie", cookie)
	resp, err := replicaClient(a).Do(req)
	if err != nil {
		t.Fatalf("logout at %s: %v", a.Name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout at %s: want a redirect, got %d", a.Name, resp.StatusCode)
	}
	loggedOut := time.Now()
	// The other replica's cache would keep the session for a second on its own; it must refuse
	// it now, which only the invalidation it received can explain.
	testkit.WaitUntil(t, "replica "+b.Name+" to refuse the session logged out at "+a.Name, 5*time.Second, func(context.Context) error {
		if st := askReplica(t, b, cookie, "/branches/1/products"); st != http.StatusUnauthorized {
			return fmt.Errorf("replica %s answers %d", b.Name, st)
		}
		return nil
	})
	t.Logf("replica %s refused the session %s after the logout at %s", b.Name, time.Since(loggedOut).Round(time.Millisecond), a.Name)
	if st := askReplica(t, a, cookie, "/branches/1/products"); st != http.StatusUnauthorized {
		t.Errorf("replica %s (where the logout happened): want 401, got %d", a.Name, st)
	}
}

// status sends one request as an API client (and with Origin for POSTs) and returns its status.
func status(t *testing.T, c *http.Client, method, url, origin string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBrowserLogin runs the shared browser flow (headless Chromium, login as the branch manager
// at the dev IdP, branch 1 allowed, branch 2 refused, logout) through Traefik: the browser on
// the host reaches the cluster through a proxy that dials into its network namespace.
func TestBrowserLogin(t *testing.T) {
	requireCluster(t)
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI is set: install it (see .ci/run)")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxy, err := cluster.BrowserProxy(ctx, dep.Transport)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("E2E_SCREENSHOT_DIR")
	if dir == "" {
		dir = "../artifacts/screenshots"
	}
	e2e.Browser(t, target(), e2e.BrowserOptions{Chromium: chromium, ScreenshotDir: dir, ProxyURL: proxy})
}
