package charttest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
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
			for _, problem := range checkInvariants(r) {
				t.Error(problem)
			}
		})
	}
}

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
	drop := func(r *rendered, kind, name string) {
		r.Objects = slices.DeleteFunc(r.Objects, func(o object) bool { return o.GVK.Kind == kind && o.Name() == name })
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
		{"backend port missing", "ingressNginx", func(r *rendered) {
			o := mustFind(t, r, "Ingress", "gw-gatewarden-api")
			o.Typed.(*networkingv1.Ingress).Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name = "grpc"
		}, "port grpc is not rendered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := renderScenario(t, ch, scenario{Name: tc.name, Release: "gw", Values: withMode(t, base, tc.mode)})
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
	o, ok := r.find(kind, name)
	if !ok {
		t.Fatalf("%s %s not rendered", kind, name)
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
			d := mustFind(t, r, "Deployment", "gw-gatewarden-authproxy").Typed.(*appsv1.Deployment)
			c := d.Spec.Template.Spec.Containers[0]
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			mounted := sentinelPasswordMount(d, env[fileEnv])
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
