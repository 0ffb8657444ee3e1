package charttest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// traefikSidecarValues adds the authproxy container to Traefik's chart; its names are those of
// release "gatewarden".
const traefikSidecarValues = "../../k8s/traefik/values-sidecar.yaml"

// traefikSidecarPod returns the part of Traefik's pod that k8s/traefik/values-sidecar.yaml adds:
// the authproxy container and its volumes, in the sidecar namespace with the sidecar pod labels.
func traefikSidecarPod(t testing.TB, r *rendered) podTemplate {
	t.Helper()
	b, err := os.ReadFile(traefikSidecarValues)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Deployment struct {
			AdditionalContainers []corev1.Container `json:"additionalContainers"`
			AdditionalVolumes    []corev1.Volume    `json:"additionalVolumes"`
		} `json:"deployment"`
		PodSecurityContext *corev1.PodSecurityContext `json:"podSecurityContext"`
	}
	if err := yaml.UnmarshalStrict(b, &v); err != nil {
		t.Fatalf("%s: %v", traefikSidecarValues, err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
	u.SetName("traefik")
	u.SetNamespace(r.sidecarNamespace())
	owner := object{Source: strings.TrimPrefix(traefikSidecarValues, "../../"), GVK: u.GroupVersionKind(), U: u}
	return podTemplate{Owner: owner, Labels: r.sidecarPodLabels(), Spec: corev1.PodSpec{
		Containers: v.Deployment.AdditionalContainers, Volumes: v.Deployment.AdditionalVolumes, SecurityContext: v.PodSecurityContext,
	}}
}

// sidecarPodProblems checks Traefik's pod with the sidecar against the rendered chart: every
// ConfigMap and Secret it mounts is rendered in the sidecar namespace with the keys it reads, the
// container takes its environment from the chart's ConfigMap, every file the environment names
// (AUTHPROXY_*_FILE, AUTHPROXY_SIGNING_KEY_FILES) is mounted, the listen port is a container
// port, and the container passes the pod security checks.
func sidecarPodProblems(r *rendered, pt podTemplate) []string {
	p := checkPodReferences(r, []podTemplate{pt})
	i := slices.IndexFunc(pt.Spec.Containers, func(c corev1.Container) bool { return c.Name == "authproxy" })
	if i < 0 {
		return append(p, fmt.Sprintf("%s: no authproxy container", pt))
	}
	c := pt.Spec.Containers[i]
	p = append(p, checkPodSecurityOf([]podTemplate{{Owner: pt.Owner, Spec: corev1.PodSpec{Containers: []corev1.Container{c}, SecurityContext: pt.Spec.SecurityContext}}})...)
	if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
		return e.ConfigMapRef != nil && e.ConfigMapRef.Name == r.sidecarEnvName()
	}) {
		p = append(p, fmt.Sprintf("%s: the authproxy container does not take its environment from ConfigMap %s", pt, r.sidecarEnvName()))
	}
	env := r.sidecarEnv()
	files := mountedFiles(r, pt, c)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !strings.HasSuffix(k, "_FILE") && !strings.HasSuffix(k, "_FILES") {
			continue
		}
		for _, f := range strings.Split(env[k], ",") {
			if !files[f] {
				p = append(p, fmt.Sprintf("%s: %s names %s, which is not a file the authproxy container mounts", pt, k, f))
			}
		}
	}
	if listen := env["AUTHPROXY_LISTEN"]; !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
		return fmt.Sprintf(":%d", cp.ContainerPort) == listen
	}) {
		p = append(p, fmt.Sprintf("%s: no container port for AUTHPROXY_LISTEN %q", pt, listen))
	}
	return p
}

// mountedFiles returns the paths of the files the container sees from its ConfigMap and Secret
// volumes (all keys of the rendered object when the volume lists no items).
func mountedFiles(r *rendered, pt podTemplate, c corev1.Container) map[string]bool {
	ns := pt.Owner.Namespace()
	files := map[string]bool{}
	add := func(dir, kind, name string, items []corev1.KeyToPath) {
		if o, ok := r.findIn(ns, kind, name); ok && len(items) == 0 {
			for _, k := range objectKeys(o) {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		for _, it := range items {
			files[dir+"/"+it.Path] = true
		}
	}
	for _, m := range c.VolumeMounts {
		for _, v := range pt.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			switch {
			case v.Secret != nil:
				add(m.MountPath, "Secret", v.Secret.SecretName, v.Secret.Items)
			case v.ConfigMap != nil:
				add(m.MountPath, "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items)
			case v.Projected != nil:
				for _, src := range v.Projected.Sources {
					if src.Secret != nil {
						add(m.MountPath, "Secret", src.Secret.Name, src.Secret.Items)
					}
					if src.ConfigMap != nil {
						add(m.MountPath, "ConfigMap", src.ConfigMap.Name, src.ConfigMap.Items)
					}
				}
			}
		}
	}
	return files
}

// TestTraefikSidecarValues: the chart, in sidecar mode for release "gatewarden", renders what
// k8s/traefik/values-sidecar.yaml mounts and names, and each case that breaks one side is caught.
func TestTraefikSidecarValues(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	vals := readValues(t, filepath.Join(chartDir, "ci", sidecarValuesFile))
	render := func(t *testing.T) (*rendered, podTemplate) {
		r := renderScenario(t, ch, scenario{Name: "traefik-sidecar", Release: "gatewarden", Values: vals})
		return r, traefikSidecarPod(t, r)
	}
	env := func(r *rendered) map[string]string {
		return mustFindIn(t, r, r.sidecarNamespace(), "ConfigMap", r.sidecarEnvName()).Typed.(*corev1.ConfigMap).Data
	}
	t.Run("matches", func(t *testing.T) {
		t.Parallel()
		r, pt := render(t)
		for _, problem := range sidecarPodProblems(r, pt) {
			t.Error(problem)
		}
	})
	tests := []struct {
		name   string
		mutate func(r *rendered, pt *podTemplate)
		want   string
	}{
		{name: "env file not mounted", mutate: func(r *rendered, _ *podTemplate) {
			env(r)["AUTHPROXY_COOKIE_SECRET_FILE"] = "/etc/gatewarden/secrets/cookie"
		}, want: "AUTHPROXY_COOKIE_SECRET_FILE names /etc/gatewarden/secrets/cookie, which is not a file"},
		{name: "signing key not in the mounted Secret", mutate: func(r *rendered, _ *podTemplate) {
			delete(mustFindIn(t, r, r.sidecarNamespace(), "Secret", "gatewarden-signing").Typed.(*corev1.Secret).Data, "signing-key-0.pem")
		}, want: "AUTHPROXY_SIGNING_KEY_FILES names /etc/gatewarden/signing/signing-key-0.pem"},
		{name: "secret only in the release namespace", mutate: func(r *rendered, _ *podTemplate) {
			mustFindIn(t, r, r.sidecarNamespace(), "Secret", "gatewarden-cookie").U.SetNamespace(testNS)
		}, want: `references Secret "gatewarden-cookie"`},
		{name: "redis password key renamed", mutate: func(r *rendered, _ *podTemplate) {
			d := mustFindIn(t, r, r.sidecarNamespace(), "Secret", "gatewarden-redis").Typed.(*corev1.Secret).Data
			d["password"] = d["redis-password"]
			delete(d, "redis-password")
		}, want: `reads key "redis-password" of Secret gatewarden-redis`},
		{name: "environment from another ConfigMap", mutate: func(_ *rendered, pt *podTemplate) {
			pt.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name = "gatewarden-env"
		}, want: "does not take its environment from ConfigMap gatewarden-authproxy-env"},
		{name: "listen port not a container port", mutate: func(r *rendered, _ *podTemplate) { env(r)["AUTHPROXY_LISTEN"] = ":8080" }, want: `no container port for AUTHPROXY_LISTEN ":8080"`},
		{name: "writable root file system", mutate: func(_ *rendered, pt *podTemplate) {
			pt.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = nil
		}, want: "readOnlyRootFilesystem is not true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, pt := render(t)
			tc.mutate(r, &pt)
			problems := sidecarPodProblems(r, pt)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("after the change, no problem contains %q; got %q", tc.want, problems)
		})
	}
}
