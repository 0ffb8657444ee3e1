package charttest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestIngressModesCovered fails when values.schema.json allows an ingress.mode the tests do not
// render.
func TestIngressModesCovered(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Ingress struct {
				Properties struct {
					Mode struct {
						Enum []string `json:"enum"`
					} `json:"mode"`
				} `json:"properties"`
			} `json:"ingress"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(s.Properties.Ingress.Properties.Mode.Enum))
	want := slices.Sorted(slices.Values(append(ingressModes(), "none")))
	if !slices.Equal(got, want) {
		t.Fatalf("values.schema.json ingress.mode enum = %v, tests cover %v", got, want)
	}
}

// TestRender renders every scenario, decodes every object strictly into the Kubernetes API
// types and checks the chart's invariants.
func TestRender(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	for _, sc := range scenarios(t) {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			r := renderScenario(t, ch, sc)
			defer writeDebug(t, r)
			known := slices.Clone(knownChartBugs[sc.Name])
			for _, problem := range checkInvariants(r) {
				if i := slices.IndexFunc(known, func(k string) bool { return strings.Contains(problem, k) }); i >= 0 {
					t.Logf("KNOWN CHART BUG (reported, to be fixed in the chart): %s", problem)
					known = slices.Delete(known, i, i+1)
					continue
				}
				t.Error(problem)
			}
			for _, k := range known {
				t.Errorf("known chart bug %q is gone: remove it from knownChartBugs", k)
			}
		})
	}
}

// knownChartBugs are invariant problems the chart has today, reported and left to the chart's
// owner: TestRender logs them instead of failing, and fails as soon as one no longer shows, so
// the entry is removed with the fix. Keep this empty whenever possible.
var knownChartBugs = map[string][]string{}

// TestRenderCounts pins what each mode renders, so a template that silently renders nothing
// (an `if` on a misspelt value) is caught.
func TestRenderCounts(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	// StatefulSets: Redis and PostgreSQL, each with a Service and a headless governing Service.
	common := map[string]int{"Deployment": 3, "StatefulSet": 2, "Service": 7, "ServiceAccount": 5, "NetworkPolicy": 6, "ConfigMap": 3, "Secret": 5}
	tests := []struct {
		mode string
		want map[string]int
	}{
		{"traefik", map[string]int{"IngressRoute": 1, "Middleware": 2}},
		{"gatewayAPI", map[string]int{"HTTPRoute": 2, "SecurityPolicy": 1}},
		{"ingressNginx", map[string]int{"Ingress": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			r := renderScenario(t, ch, scenario{Name: tc.mode, Release: "gw", Values: withMode(t, base, tc.mode)})
			got := map[string]int{}
			for _, o := range r.Objects {
				got[o.GVK.Kind]++
			}
			for k, n := range common {
				if got[k] != n {
					t.Errorf("%s: %d objects, want %d", k, got[k], n)
				}
			}
			for k, n := range tc.want {
				if got[k] != n {
					t.Errorf("%s: %d objects, want %d", k, got[k], n)
				}
			}
		})
	}
}

// TestRenderRequiresValues: the chart refuses to render without the values that have no safe
// default, naming each.
func TestRenderRequiresValues(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	_, err := renderValues(context.Background(), ch, "gw", testNS, map[string]any{})
	if err == nil {
		t.Fatal("rendering with the default values succeeded; want an error naming the required values")
	}
	for _, want := range []string{"publicURL", "fusionAuth.url", "fusionAuth.clientId", "fusionAuth.clientSecret", "authproxy.signing.keys"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

// TestLint runs `helm lint --strict` (through the SDK) with every ci/ values file.
func TestLint(t *testing.T) {
	t.Parallel()
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ciValueFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			vals := readValues(t, f)
			res := lint.AllWithKubeVersion(chartDir, vals, testNS, kv)
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}

// TestInvariantChecks proves the checks catch what they look for: each case breaks one rendered
// object and expects the matching problem.
func TestInvariantChecks(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	authproxy := func(r *rendered) *appsv1.Deployment {
		return mustFind(t, r, "Deployment", "gw-gatewarden-authproxy").Typed.(*appsv1.Deployment)
	}
	ctr := func(r *rendered) *corev1.Container { return &authproxy(r).Spec.Template.Spec.Containers[0] }
	dropIn := func(r *rendered, ns, kind, name string) {
		r.Objects = slices.DeleteFunc(r.Objects, func(o object) bool { return o.GVK.Kind == kind && o.Name() == name && o.Namespace() == ns })
	}
	drop := func(r *rendered, kind, name string) { dropIn(r, testNS, kind, name) }
	const sidecarNS = "traefik"
	sidecarVals := readValues(t, filepath.Join(chartDir, "ci", sidecarValuesFile))
	// An object as another scenario renders it (to add what the scenario under test lacks).
	borrow := func(vals map[string]any, kind, ns, name string) object {
		r := renderScenario(t, ch, scenario{Name: "borrow", Release: "gw", Values: vals})
		return mustFindIn(t, r, ns, kind, name)
	}
	setData := func(o object, key string, v []byte) {
		s := o.Typed.(*corev1.Secret)
		s.Data[key] = v
	}
	sidecarSvc := func(r *rendered) *corev1.Service {
		return mustFindIn(t, r, sidecarNS, "Service", "gw-gatewarden-authproxy").Typed.(*corev1.Service)
	}
	tests := []struct {
		name   string
		mode   string
		mutate func(r *rendered)
		want   string
	}{
		{"read-write root fs", "traefik", func(r *rendered) { ctr(r).SecurityContext.ReadOnlyRootFilesystem = nil }, "readOnlyRootFilesystem is not true"},
		{"may run as root", "traefik", func(r *rendered) {
			ctr(r).SecurityContext.RunAsNonRoot = nil
			authproxy(r).Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		}, "runAsNonRoot is not true"},
		{"uid 0", "traefik", func(r *rendered) { var z int64; ctr(r).SecurityContext.RunAsUser = &z }, "runAsUser is 0"},
		{"privilege escalation", "traefik", func(r *rendered) { b := true; ctr(r).SecurityContext.AllowPrivilegeEscalation = &b }, "allowPrivilegeEscalation is not false"},
		{"capabilities kept", "traefik", func(r *rendered) { ctr(r).SecurityContext.Capabilities = nil }, "capabilities.drop does not contain ALL"},
		{"seccomp unconfined", "traefik", func(r *rendered) {
			ctr(r).SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, "seccompProfile is not RuntimeDefault"},
		{"no cpu request", "traefik", func(r *rendered) { delete(ctr(r).Resources.Requests, corev1.ResourceCPU) }, "resources.requests.cpu is not set"},
		{"no readiness probe", "traefik", func(r *rendered) { ctr(r).ReadinessProbe = nil }, "no readinessProbe"},
		{"liveness on /readyz", "traefik", func(r *rendered) { ctr(r).LivenessProbe.HTTPGet.Path = "/readyz" }, `livenessProbe path is "/readyz"`},
		{"selector mismatch", "traefik", func(r *rendered) {
			authproxy(r).Spec.Template.Labels["app.kubernetes.io/component"] = "other"
		}, "does not match the pod template labels"},
		{"service selects nothing", "traefik", func(r *rendered) {
			mustFind(t, r, "Service", "gw-gatewarden-catalog").Typed.(*corev1.Service).Spec.Selector["app.kubernetes.io/component"] = "nope"
		}, "matches no rendered pods"},
		{"missing secret", "traefik", func(r *rendered) { drop(r, "Secret", "gw-gatewarden-cookie") }, `references Secret "gw-gatewarden-cookie"`},
		{"missing secret key", "traefik", func(r *rendered) {
			src := authproxy(r).Spec.Template.Spec.Volumes
			for i := range src {
				if src[i].Projected != nil {
					src[i].Projected.Sources[0].Secret.Items[0].Key = "nope"
				}
			}
		}, `reads key "nope"`},
		{"no checksum", "traefik", func(r *rendered) { delete(authproxy(r).Spec.Template.Annotations, "checksum/config") }, "checksum/config"},
		{"unselected pods", "traefik", func(r *rendered) {
			drop(r, "NetworkPolicy", "gw-gatewarden-default-deny")
			drop(r, "NetworkPolicy", "gw-gatewarden-authproxy")
		}, "no NetworkPolicy with policyType Ingress selects"},
		{"no default deny", "traefik", func(r *rendered) { drop(r, "NetworkPolicy", "gw-gatewarden-default-deny") }, "no NetworkPolicy denies all"},
		{"egress unrestricted", "traefik", func(r *rendered) {
			for _, o := range r.byKind("NetworkPolicy") {
				np := o.Typed.(*networkingv1.NetworkPolicy)
				np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			}
		}, "no NetworkPolicy with policyType Egress"},
		{"name too long", "traefik", func(r *rendered) { r.Objects[0].U.SetName(strings.Repeat("a", 64)) }, "max 63"},
		{"traefik route without forward auth", "traefik", func(r *rendered) {
			o := r.byKind("IngressRoute")[0]
			routes, _, _ := unstructured.NestedSlice(o.U.Object, "spec", "routes")
			delete(routes[0].(map[string]any), "middlewares")
			_ = unstructured.SetNestedSlice(o.U.Object, routes, "spec", "routes")
		}, "without the forwardAuth middleware"},
		{"traefik trusts forward headers", "traefik", func(r *rendered) {
			o := mustFind(t, r, "Middleware", "gw-gatewarden-forward-auth")
			_ = unstructured.SetNestedField(o.U.Object, true, "spec", "forwardAuth", "trustForwardHeader")
		}, "trustForwardHeader is true"},
		{"traefik keeps client identity headers", "traefik", func(r *rendered) {
			o := mustFind(t, r, "Middleware", "gw-gatewarden-strip-identity")
			unstructured.RemoveNestedField(o.U.Object, "spec", "headers", "customRequestHeaders", "X-Auth-Request-User")
		}, "does not strip client-sent"},
		{"envoy keeps client identity headers", "gatewayAPI", func(r *rendered) {
			hr := mustFind(t, r, "HTTPRoute", "gw-gatewarden-api").Typed.(*gatewayv1.HTTPRoute)
			hr.Spec.Rules[0].Filters = nil
		}, "does not remove client-sent x-auth-request-user"},
		{"envoy fail open", "gatewayAPI", func(r *rendered) {
			o := r.byKind("SecurityPolicy")[0]
			_ = unstructured.SetNestedField(o.U.Object, true, "spec", "extAuth", "failOpen")
		}, "failOpen is true"},
		{"envoy policy gone", "gatewayAPI", func(r *rendered) { drop(r, "SecurityPolicy", "gw-gatewarden-api") }, "no SecurityPolicy with extAuth targets it"},
		{"nginx keeps client identity headers", "ingressNginx", func(r *rendered) {
			o := mustFind(t, r, "Ingress", "gw-gatewarden-api")
			o.Typed.(*networkingv1.Ingress).Annotations["nginx.ingress.kubernetes.io/auth-response-headers"] = "Authorization"
		}, "does not take x-auth-request-user from authproxy's answer"},
		{"nginx without auth-url", "ingressNginx", func(r *rendered) {
			o := mustFind(t, r, "Ingress", "gw-gatewarden-api")
			delete(o.Typed.(*networkingv1.Ingress).Annotations, "nginx.ingress.kubernetes.io/auth-url")
		}, "without the auth-url annotation"},
		{"nginx without auth keep-alive", "ingressNginx", func(r *rendered) {
			o := mustFind(t, r, "Ingress", "gw-gatewarden-api")
			delete(o.Typed.(*networkingv1.Ingress).Annotations, "nginx.ingress.kubernetes.io/auth-keepalive")
		}, "auth-url without auth-keepalive"},
		{"backend port missing", "ingressNginx", func(r *rendered) {
			o := mustFind(t, r, "Ingress", "gw-gatewarden-api")
			o.Typed.(*networkingv1.Ingress).Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name = "grpc"
		}, "port grpc is not rendered"},
		// mode "sidecar": ci/traefik-sidecar-values.yaml (authproxy in Traefik's pods).
		{"other component in the sidecar namespace", "sidecar", func(r *rendered) {
			mustFind(t, r, "Service", "gw-gatewarden-catalog").U.SetNamespace(sidecarNS)
		}, `in the sidecar namespace "traefik", where only authproxy's`},
		{"sidecar object in a third namespace", "sidecar", func(r *rendered) {
			mustFindIn(t, r, sidecarNS, "ConfigMap", "gw-gatewarden-authproxy-env").U.SetNamespace("elsewhere")
		}, `namespace is "elsewhere", want the release namespace`},
		{"sidecar namespace without sidecar mode", "traefik", func(r *rendered) {
			mustFind(t, r, "ConfigMap", "gw-gatewarden-authproxy").U.SetNamespace(sidecarNS)
		}, `namespace is "traefik", want the release namespace`},
		{"same kind, namespace and name twice", "sidecar", func(r *rendered) {
			mustFindIn(t, r, sidecarNS, "Secret", "gw-gatewarden-redis").U.SetNamespace(testNS)
		}, "Secret gatewarden/gw-gatewarden-redis (templates/redis-secret.yaml): rendered twice"},
		{"redis password copy differs", "sidecar", func(r *rendered) {
			setData(mustFindIn(t, r, sidecarNS, "Secret", "gw-gatewarden-redis"), "redis-password", []byte("stale"))
		}, "differs from its copy"},
		{"redis password not copied", "sidecar", func(r *rendered) { dropIn(r, sidecarNS, "Secret", "gw-gatewarden-redis") }, `no copy in the sidecar namespace "traefik"`},
		{"sidecar service selects other pods", "sidecar", func(r *rendered) {
			sidecarSvc(r).Spec.Selector = map[string]string{"app.kubernetes.io/name": "other"}
		}, "want authproxy.sidecar.podLabels"},
		{"sidecar service selects a subset", "sidecar", func(r *rendered) {
			sidecarSvc(r).Spec.Selector["app.kubernetes.io/instance"] = "traefik-traefik"
		}, "want authproxy.sidecar.podLabels"},
		{"sidecar service targets a port name", "sidecar", func(r *rendered) {
			sidecarSvc(r).Spec.Ports[0].TargetPort = intstr.FromString("http")
		}, `want the port of AUTHPROXY_LISTEN ":4180" by number`},
		{"sidecar forward auth through the Service", "sidecar", func(r *rendered) {
			o := mustFind(t, r, "Middleware", "gw-gatewarden-forward-auth")
			_ = unstructured.SetNestedField(o.U.Object, "http://gw-gatewarden-authproxy.traefik.svc.cluster.local:4180/authz", "spec", "forwardAuth", "address")
		}, "want http://127.0.0.1:4180/authz (authproxy.mode sidecar)"},
		{"forward auth to loopback without the sidecar", "traefik", func(r *rendered) {
			o := mustFind(t, r, "Middleware", "gw-gatewarden-forward-auth")
			_ = unstructured.SetNestedField(o.U.Object, sidecarForwardAuthAddress, "spec", "forwardAuth", "address")
		}, "want http://gw-gatewarden-authproxy.gatewarden.svc.cluster.local:4180/authz"},
		{"forward auth to a lookalike Service", "traefik", func(r *rendered) {
			o := mustFind(t, r, "Middleware", "gw-gatewarden-forward-auth")
			_ = unstructured.SetNestedField(o.U.Object, "http://gw-gatewarden-authproxy.attacker.svc.cluster.local:4180/authz", "spec", "forwardAuth", "address")
		}, "want http://gw-gatewarden-authproxy.gatewarden.svc.cluster.local:4180/authz"},
		{"authproxy Deployment in sidecar mode", "sidecar", func(r *rendered) {
			r.Objects = append(r.Objects, borrow(withMode(t, base, "traefik"), "Deployment", testNS, "gw-gatewarden-authproxy"))
		}, "rendered in sidecar mode"},
		{"authproxy NetworkPolicy in sidecar mode", "sidecar", func(r *rendered) {
			r.Objects = append(r.Objects, borrow(withMode(t, base, "traefik"), "NetworkPolicy", testNS, "gw-gatewarden-authproxy"))
		}, "rendered in sidecar mode"},
		{"sidecar environment missing", "sidecar", func(r *rendered) { dropIn(r, sidecarNS, "ConfigMap", "gw-gatewarden-authproxy-env") }, "renders no ConfigMap traefik/gw-gatewarden-authproxy-env"},
		{"sidecar environment without the sidecar", "traefik", func(r *rendered) {
			o := borrow(sidecarVals, "ConfigMap", sidecarNS, "gw-gatewarden-authproxy-env")
			o.U.SetNamespace(testNS)
			r.Objects = append(r.Objects, o)
		}, "the sidecar's environment ConfigMap gw-gatewarden-authproxy-env is rendered"},
		{"signing key file not in the Secret", "sidecar", func(r *rendered) {
			delete(mustFindIn(t, r, sidecarNS, "Secret", "gw-gatewarden-signing").Typed.(*corev1.Secret).Data, "signing-key-1.pem")
		}, "AUTHPROXY_SIGNING_KEY_FILES names /etc/gatewarden/signing/signing-key-1.pem"},
		{"redis address in another namespace", "traefik", func(r *rendered) {
			for i, e := range ctr(r).Env {
				if e.Name == "AUTHPROXY_REDIS_ADDRS" {
					ctr(r).Env[i].Value = "gw-gatewarden-redis.elsewhere:6379"
				}
			}
		}, "resolves, from authproxy's namespace \"gatewarden\", to Service elsewhere/gw-gatewarden-redis, which is not rendered"},
		{"sidecar service in the release namespace", "sidecar", func(r *rendered) {
			sidecarSvc(r).Namespace = testNS
			mustFindIn(t, r, sidecarNS, "Service", "gw-gatewarden-authproxy").U.SetNamespace(testNS)
		}, "authproxy's Service in sidecar mode belongs in the sidecar namespace"},
		{"login route to a Service of another namespace", "sidecar", func(r *rendered) {
			mustFindIn(t, r, sidecarNS, "IngressRoute", "gw-gatewarden-login").U.SetNamespace(testNS)
		}, "backend Service gatewarden/gw-gatewarden-authproxy port http is not rendered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vals := sidecarVals
			if tc.mode != "sidecar" {
				vals = withMode(t, base, tc.mode)
			}
			r := renderScenario(t, ch, scenario{Name: tc.name, Release: "gw", Values: vals})
			before := checkInvariants(r)
			tc.mutate(r)
			problems := checkInvariants(r)
			for _, p := range problems {
				if strings.Contains(p, tc.want) && !slices.Contains(before, p) {
					return
				}
			}
			t.Errorf("after the change, no new problem contains %q; got %q", tc.want, problems)
		})
	}
}

func mustFind(t testing.TB, r *rendered, kind, name string) object {
	t.Helper()
	return mustFindIn(t, r, r.Scenario.namespace(), kind, name)
}

func mustFindIn(t testing.TB, r *rendered, ns, kind, name string) object {
	t.Helper()
	o, ok := r.findIn(ns, kind, name)
	if !ok {
		t.Fatalf("%s %s/%s not rendered", kind, ns, name)
	}
	return o
}

// TestRenderSentinelAuth: authproxy gets the Sentinel user and password file only with the
// Sentinel ci file, the file is mounted from the Secret the values name, and the chart refuses
// Sentinel credentials without externalRedis.masterName.
func TestRenderSentinelAuth(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	const (
		userEnv = "AUTHPROXY_REDIS_SENTINEL_USERNAME"
		fileEnv = "AUTHPROXY_REDIS_SENTINEL_PASSWORD_FILE"
	)
	for _, f := range ciValueFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			sentinel := filepath.Base(f) == "external-redis-sentinel-values.yaml"
			r := renderScenario(t, ch, scenario{Name: filepath.Base(f), Release: "gw", Values: readValues(t, f)})
			env := r.sidecarEnv() // the sidecar's; its mounts are the ingress controller's values
			var mounted *corev1.SecretProjection
			if !r.sidecar() {
				d := mustFind(t, r, "Deployment", "gw-gatewarden-authproxy").Typed.(*appsv1.Deployment)
				env = map[string]string{}
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					env[e.Name] = e.Value
				}
				mounted = sentinelPasswordMount(d, env[fileEnv])
			}
			if env == nil {
				t.Fatal("sidecar mode renders no environment ConfigMap")
			}
			if !sentinel {
				for _, k := range []string{userEnv, fileEnv} {
					if v, ok := env[k]; ok {
						t.Errorf("%s=%q rendered without Sentinel auth", k, v)
					}
				}
				if _, ok := r.find("Secret", "gw-gatewarden-redis-sentinel"); ok {
					t.Error("Secret gw-gatewarden-redis-sentinel rendered without Sentinel auth")
				}
				return
			}
			if got, want := env[userEnv], r.stringValue("externalRedis.sentinel.username"); got == "" || got != want {
				t.Errorf("%s = %q, want %q (non-empty)", userEnv, got, want)
			}
			if mounted == nil {
				t.Fatalf("%s = %q is not a file mounted from a Secret", fileEnv, env[fileEnv])
			}
			if mounted.Name != "gw-gatewarden-redis-sentinel" || len(mounted.Items) != 1 || mounted.Items[0].Key != r.stringValue("externalRedis.sentinel.key") {
				t.Errorf("%s is mounted from Secret %s items %v, want gw-gatewarden-redis-sentinel key %s", fileEnv, mounted.Name, mounted.Items, r.stringValue("externalRedis.sentinel.key"))
			}
			s := mustFind(t, r, "Secret", "gw-gatewarden-redis-sentinel").Typed.(*corev1.Secret)
			if got, want := string(s.Data[r.stringValue("externalRedis.sentinel.key")]), r.stringValue("externalRedis.sentinel.password"); got == "" || got != want {
				t.Errorf("Secret gw-gatewarden-redis-sentinel holds %q, want the values' password %q", got, want)
			}
		})
	}

	base := readValues(t, filepath.Join(chartDir, "ci", "external-redis-cluster-values.yaml"))
	for _, tc := range []struct {
		name string
		set  map[string]any
	}{
		{name: "username", set: map[string]any{"username": "u"}},
		{name: "password", set: map[string]any{"password": "p"}},
		{name: "existingSecret", set: map[string]any{"existingSecret": "s"}},
	} {
		t.Run("refused without masterName/"+tc.name, func(t *testing.T) {
			t.Parallel()
			vals := deepCopy(t, base)
			vals["externalRedis"].(map[string]any)["sentinel"] = tc.set
			_, err := renderValues(context.Background(), ch, "gw", testNS, vals)
			if err == nil || !strings.Contains(err.Error(), "set externalRedis.masterName") {
				t.Errorf("render error = %v, want one asking for externalRedis.masterName", err)
			}
		})
	}
}

// sentinelPasswordMount returns the projected Secret source that puts the file at path into the
// Deployment's first container, or nil.
func sentinelPasswordMount(d *appsv1.Deployment, path string) *corev1.SecretProjection {
	if path == "" {
		return nil
	}
	c := d.Spec.Template.Spec.Containers[0]
	for _, m := range c.VolumeMounts {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.Projected == nil {
				continue
			}
			for _, src := range v.Projected.Sources {
				if src.Secret == nil {
					continue
				}
				for _, it := range src.Secret.Items {
					if m.MountPath+"/"+it.Path == path {
						return src.Secret
					}
				}
			}
		}
	}
	return nil
}

// TestTrustedProxiesNeedAValueOrNodes: with authproxy.trustedProxies empty and no cluster to look
// the nodes' pod ranges up in (helm template), the chart refuses to render and says what to set.
// hack/cluster installs it with the value empty into a real cluster, where it is derived.
func TestTrustedProxiesNeedAValueOrNodes(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	vals := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	ap, ok := vals["authproxy"].(map[string]any)
	if !ok {
		t.Fatal("ci values have no authproxy section")
	}
	delete(ap, "trustedProxies")
	_, err := renderValues(context.Background(), ch, "gw", "gw", vals)
	if err == nil || !strings.Contains(err.Error(), "set authproxy.trustedProxies") {
		t.Fatalf("render without trustedProxies and without nodes: want an error saying what to set, got %v", err)
	}
}

// TestReplicatedAuthproxyIsProtected: two or more authproxy replicas get a PodDisruptionBudget
// and a preferred anti-affinity by default; one replica gets neither (a PDB would block drains).
func TestReplicatedAuthproxyIsProtected(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	for _, replicas := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(replicas), func(t *testing.T) {
			t.Parallel()
			vals := deepCopy(t, base)
			vals["authproxy"].(map[string]any)["replicas"] = replicas
			r := renderScenario(t, ch, scenario{Name: fmt.Sprint(replicas), Release: "gw", Values: vals})
			pdbs := len(r.byKind("PodDisruptionBudget"))
			d, ok := r.find("Deployment", "gw-gatewarden-authproxy")
			if !ok {
				t.Fatal("no authproxy Deployment")
			}
			var dep appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(d.U.Object, &dep); err != nil {
				t.Fatal(err)
			}
			aff := dep.Spec.Template.Spec.Affinity
			hasAnti := aff != nil && aff.PodAntiAffinity != nil && len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0
			want := replicas >= 2
			if (pdbs == 1) != want || hasAnti != want {
				t.Errorf("replicas %d: PodDisruptionBudgets %d, anti-affinity %v; want both present = %v", replicas, pdbs, hasAnti, want)
			}
		})
	}
}

// TestRenderCountsSidecar pins what sidecar mode renders: no authproxy Deployment,
// ServiceAccount, NetworkPolicy, HorizontalPodAutoscaler or PodDisruptionBudget even with
// autoscaling and a disruption budget asked for (the ingress controller's chart owns the pods);
// the environment ConfigMap, the Redis password copy and the login IngressRoute in addition.
func TestRenderCountsSidecar(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	vals := readValues(t, filepath.Join(chartDir, "ci", sidecarValuesFile))
	ap := vals["authproxy"].(map[string]any)
	ap["replicas"] = 3
	ap["autoscaling"] = map[string]any{"enabled": true, "minReplicas": 2}
	ap["podDisruptionBudget"] = map[string]any{"enabled": true}
	r := renderScenario(t, ch, scenario{Name: "sidecar-counts", Release: "gw", Values: vals})
	got := map[string]int{}
	for _, o := range r.Objects {
		got[o.Namespace()+" "+o.GVK.Kind]++
	}
	// In the release namespace: Redis and PostgreSQL (StatefulSet, Service and headless Service,
	// ServiceAccount, NetworkPolicy, ConfigMap, Secret each) besides catalog and inventory.
	want := map[string]int{
		"gatewarden Deployment": 2, "gatewarden StatefulSet": 2, "gatewarden Service": 6, "gatewarden ServiceAccount": 4,
		"gatewarden NetworkPolicy": 5, "gatewarden ConfigMap": 2, "gatewarden Secret": 2, "gatewarden IngressRoute": 1,
		"gatewarden Middleware": 2,
		"traefik Service":       1, "traefik ConfigMap": 2, "traefik Secret": 4, "traefik IngressRoute": 1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("objects by namespace and kind:\n got %v\nwant %v", got, want)
	}
}

// TestSidecarEnvMatchesDeployment: the sidecar's environment ConfigMap holds the variables the
// authproxy Deployment's env has for the same values, with the same values, except the trusted
// proxies (the ingress controller asks over loopback) and the signing key folder (the sidecar
// mounts the signing Secret whole); the key file names are the same.
func TestSidecarEnvMatchesDeployment(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	for _, f := range ciValueFiles(t) {
		name := filepath.Base(f)
		if name == "dev-mode-values.yaml" {
			continue // ingress mode none; sidecar mode is for Traefik. Dev mode is covered below.
		}
		if name == "external-redis-sentinel-values.yaml" {
			continue // the chart refuses Sentinel authentication in sidecar mode (TestSidecarRefusals)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vals := withMode(t, readValues(t, f), "traefik")
			compareSidecarEnv(t, ch, vals)
		})
	}
	t.Run("dev-mode", func(t *testing.T) {
		t.Parallel()
		vals := withMode(t, readValues(t, filepath.Join(chartDir, "ci", "dev-mode-values.yaml")), "traefik")
		vals["ingress"].(map[string]any)["host"] = "localhost"
		compareSidecarEnv(t, ch, vals)
	})
}

const (
	sidecarTrustedProxies = "127.0.0.1/32,::1/128"
	sidecarSigningDir     = "/etc/gatewarden/signing" // where k8s/traefik/values-sidecar.yaml mounts it
)

// renderBothModes renders the values with authproxy.mode deployment (with a trustedProxies value
// when the values have none: no nodes to derive it from) and with authproxy.mode sidecar.
func renderBothModes(t *testing.T, ch *chart.Chart, vals map[string]any) (dep, side *rendered) {
	t.Helper()
	depVals := withValue(t, vals, "authproxy", "mode", "deployment")
	if ap := depVals["authproxy"].(map[string]any); ap["trustedProxies"] == nil {
		ap["trustedProxies"] = []any{"10.244.0.0/16"}
	}
	dep = renderScenario(t, ch, scenario{Name: "deployment", Release: "gw", Values: depVals})
	side = renderScenario(t, ch, scenario{Name: "sidecar", Release: "gw", Values: withValue(t, vals, "authproxy", "mode", "sidecar")})
	return dep, side
}

func compareSidecarEnv(t *testing.T, ch *chart.Chart, vals map[string]any) {
	t.Helper()
	dep, side := renderBothModes(t, ch, vals)
	for _, problem := range sidecarEnvProblems(dep, side) {
		t.Error(problem)
	}
}

// sidecarEnvProblems compares the authproxy Deployment's env of dep with the sidecar's
// environment ConfigMap of side (the same values in both modes).
func sidecarEnvProblems(dep, side *rendered) []string {
	var p []string
	o, ok := dep.find("Deployment", dep.fullname()+"-authproxy")
	if !ok {
		return []string{"deployment mode renders no authproxy Deployment"}
	}
	want := map[string]string{}
	for _, e := range o.Typed.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil {
			p = append(p, fmt.Sprintf("Deployment env %s comes from %v: a ConfigMap cannot carry it", e.Name, e.ValueFrom))
		}
		want[e.Name] = e.Value
	}
	if extra, _ := dep.value("authproxy.extraEnv").([]any); len(extra) > 0 {
		p = append(p, "the values set authproxy.extraEnv, which the sidecar's ConfigMap does not carry")
	}
	got := side.sidecarEnv()
	if got == nil {
		return append(p, "sidecar mode renders no environment ConfigMap")
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("%s=%q in the Deployment, missing from the sidecar's ConfigMap", k, want[k]))
		case k == "AUTHPROXY_TRUSTED_PROXIES":
			if g != sidecarTrustedProxies {
				p = append(p, fmt.Sprintf("sidecar %s=%q, want %q (loopback only)", k, g, sidecarTrustedProxies))
			}
			if w := strings.Join(anyStrings(dep.value("authproxy.trustedProxies")), ","); want[k] != w {
				p = append(p, fmt.Sprintf("Deployment %s=%q, want authproxy.trustedProxies %q", k, want[k], w))
			}
		case k == "AUTHPROXY_SIGNING_KEY_FILES":
			gf, wf := strings.Split(g, ","), strings.Split(want[k], ",")
			same := len(gf) == len(wf)
			for i := 0; same && i < len(gf); i++ {
				same = path.Dir(gf[i]) == sidecarSigningDir && path.Base(gf[i]) == path.Base(wf[i])
			}
			if !same {
				p = append(p, fmt.Sprintf("sidecar %s=%q, want the Deployment's key files %q under %s", k, g, want[k], sidecarSigningDir))
			}
		case g != want[k]:
			p = append(p, fmt.Sprintf("sidecar %s=%q, Deployment %q", k, g, want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			p = append(p, fmt.Sprintf("sidecar %s=%q, not in the Deployment's env", k, got[k]))
		}
		if !strings.HasPrefix(k, "AUTHPROXY_") && !strings.HasPrefix(k, "OTEL_") { // OTEL_*: tracing.*
			p = append(p, fmt.Sprintf("sidecar ConfigMap key %s is neither an AUTHPROXY_ nor an OTEL_ variable", k))
		}
	}
	return p
}

// TestSidecarEnvChecks proves sidecarEnvProblems catches what it looks for: each case breaks the
// sidecar's ConfigMap (or the values) and expects the matching problem.
func TestSidecarEnvChecks(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	vals := readValues(t, filepath.Join(chartDir, "ci", sidecarValuesFile))
	data := func(r *rendered) map[string]string {
		return mustFindIn(t, r, r.sidecarNamespace(), "ConfigMap", r.sidecarEnvName()).Typed.(*corev1.ConfigMap).Data
	}
	tests := []struct {
		name   string
		mutate func(dep, side *rendered)
		want   string
	}{
		{name: "variable missing", mutate: func(_, side *rendered) { delete(data(side), "AUTHPROXY_REDIS_ADDRS") }, want: "AUTHPROXY_REDIS_ADDRS=\"gw-gatewarden-redis.gatewarden.svc.cluster.local:6379\" in the Deployment, missing"},
		{name: "value differs", mutate: func(_, side *rendered) { data(side)["AUTHPROXY_COOKIE_NAME"] = "other" }, want: `sidecar AUTHPROXY_COOKIE_NAME="other", Deployment`},
		{name: "extra variable", mutate: func(_, side *rendered) { data(side)["AUTHPROXY_DEV_MODE"] = "true" }, want: "not in the Deployment's env"},
		{name: "not an authproxy variable", mutate: func(_, side *rendered) { data(side)["HOME"] = "/" }, want: "key HOME is neither an AUTHPROXY_ nor an OTEL_ variable"},
		{name: "sidecar trusts the pod network", mutate: func(_, side *rendered) { data(side)["AUTHPROXY_TRUSTED_PROXIES"] = "10.244.0.0/16" }, want: "want \"127.0.0.1/32,::1/128\" (loopback only)"},
		{name: "signing keys in the Deployment's folder", mutate: func(_, side *rendered) {
			data(side)["AUTHPROXY_SIGNING_KEY_FILES"] = "/etc/gatewarden/secrets/signing/signing-key-0.pem,/etc/gatewarden/secrets/signing/signing-key-1.pem"
		}, want: "under /etc/gatewarden/signing"},
		{name: "a signing key left out", mutate: func(_, side *rendered) {
			data(side)["AUTHPROXY_SIGNING_KEY_FILES"] = "/etc/gatewarden/signing/signing-key-0.pem"
		}, want: "want the Deployment's key files"},
		{name: "no environment ConfigMap", mutate: func(_, side *rendered) {
			side.Objects = slices.DeleteFunc(side.Objects, func(o object) bool { return o.Name() == side.sidecarEnvName() })
		}, want: "sidecar mode renders no environment ConfigMap"},
		{name: "extraEnv", mutate: func(dep, _ *rendered) {
			dep.Values["authproxy"].(map[string]any)["extraEnv"] = []any{map[string]any{"name": "AUTHPROXY_REFRESH_WINDOW", "value": "1m"}}
		}, want: "authproxy.extraEnv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dep, side := renderBothModes(t, ch, vals)
			if before := sidecarEnvProblems(dep, side); len(before) > 0 {
				t.Fatalf("problems before the change: %q", before)
			}
			tc.mutate(dep, side)
			problems := sidecarEnvProblems(dep, side)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("after the change, no problem contains %q; got %q", tc.want, problems)
		})
	}
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestRedisAddrsFromTheSidecar: the sidecar runs in the sidecar namespace, so the in-chart Redis
// must be named with the release namespace; checkRedisAddrs tells the forms apart.
func TestRedisAddrsFromTheSidecar(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	vals := readValues(t, filepath.Join(chartDir, "ci", sidecarValuesFile))
	tests := []struct {
		name  string
		addrs string
		ok    bool
	}{
		{name: "bare name", addrs: "gw-gatewarden-redis:6379", ok: false},
		{name: "name.namespace", addrs: "gw-gatewarden-redis.gatewarden:6379", ok: true},
		{name: "name.namespace.svc", addrs: "gw-gatewarden-redis.gatewarden.svc:6379", ok: true},
		{name: "cluster FQDN", addrs: "gw-gatewarden-redis.gatewarden.svc.cluster.local:6379", ok: true},
		{name: "another cluster domain", addrs: "gw-gatewarden-redis.gatewarden.svc.example.org:6379", ok: false},
		{name: "the sidecar namespace", addrs: "gw-gatewarden-redis.traefik:6379", ok: false},
		{name: "no port", addrs: "gw-gatewarden-redis.gatewarden", ok: false},
		{name: "a Redis outside the chart", addrs: "redis.data:6379", ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := renderScenario(t, ch, scenario{Name: tc.name, Release: "gw", Values: vals})
			mustFindIn(t, r, r.sidecarNamespace(), "ConfigMap", r.sidecarEnvName()).Typed.(*corev1.ConfigMap).Data["AUTHPROXY_REDIS_ADDRS"] = tc.addrs
			if p := checkRedisAddrs(r); (len(p) == 0) != tc.ok {
				t.Errorf("AUTHPROXY_REDIS_ADDRS=%s: problems %q, want ok=%v", tc.addrs, p, tc.ok)
			}
		})
	}
}

// TestSidecarRefusals: combinations sidecar mode cannot serve are refused at install with what
// to do, instead of rendering a sidecar that cannot start.
func TestSidecarRefusals(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	tests := []struct {
		name, file, namespace, want string
		change                      func(map[string]any)
	}{
		{name: "Sentinel authentication", file: "external-redis-sentinel-values.yaml", namespace: "gw", want: "does not support Sentinel authentication"},
		{name: "release in the sidecar namespace", file: "traefik-values.yaml", namespace: "traefik", want: "authproxy.sidecar.namespace must be the ingress controller's namespace"},
		{name: "extraEnv", file: "traefik-values.yaml", namespace: "gw", want: "authproxy.extraEnv does not reach the sidecar",
			change: func(v map[string]any) {
				v["authproxy"].(map[string]any)["extraEnv"] = []any{map[string]any{"name": "X", "value": "y"}}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vals := withMode(t, readValues(t, filepath.Join(chartDir, "ci", tc.file)), "traefik")
			ap := vals["authproxy"].(map[string]any)
			ap["mode"] = "sidecar"
			if tc.change != nil {
				tc.change(vals)
			}
			_, err := renderValues(context.Background(), ch, "gw", tc.namespace, vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}
