package charttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "../../charts/gatewarden"
	testNS      = "gatewarden"
	kubeVersion = "v1.36.3"
)

// ingressModes are the values of ingress.mode that wire an ingress controller. The render test
// checks this list (plus "none") against the enum in values.schema.json, so a new mode cannot go
// untested.
func ingressModes() []string { return []string{"traefik", "gatewayAPI", "ingressNginx"} }

// isCRDKind reports the custom resource kinds without Go types here: they are decoded as
// unstructured objects and validated by their CRD schemas in the apiserver install test.
// Any other kind the scheme does not know fails the render test.
func isCRDKind(gvk schema.GroupVersionKind) bool {
	switch gvk {
	case schema.GroupVersionKind{Group: "traefik.io", Version: "v1alpha1", Kind: "Middleware"},
		schema.GroupVersionKind{Group: "traefik.io", Version: "v1alpha1", Kind: "IngressRoute"},
		schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "SecurityPolicy"}:
		return true
	}
	return false
}

// object is one rendered manifest, decoded.
type object struct {
	Source string                     // template path from the "# Source:" comment
	GVK    schema.GroupVersionKind    // from apiVersion/kind
	Typed  runtime.Object             // the strictly decoded Go type; nil for crdKinds
	U      *unstructured.Unstructured // the same object as unstructured
	YAML   []byte
}

func (o object) Name() string { return o.U.GetName() }

func (o object) Namespace() string { return o.U.GetNamespace() }

func (o object) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.GVK.Kind, o.U.GetNamespace(), o.U.GetName(), o.Source)
}

// scenario is one set of values the chart is rendered with.
type scenario struct {
	Name      string
	Release   string
	Namespace string // "" = testNS
	Values    map[string]any
}

func (s scenario) namespace() string {
	if s.Namespace == "" {
		return testNS
	}
	return s.Namespace
}

// rendered is the chart rendered for one scenario.
type rendered struct {
	Scenario scenario
	Values   map[string]any // the chart's defaults coalesced with the scenario's values
	Objects  []object
}

// byKind returns the objects of one kind.
func (r *rendered) byKind(kind string) []object {
	var out []object
	for _, o := range r.Objects {
		if o.GVK.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// find returns the object of the kind and name in the release namespace.
func (r *rendered) find(kind, name string) (object, bool) {
	return r.findIn(r.Scenario.namespace(), kind, name)
}

// findIn returns the object of the kind and name in the namespace.
func (r *rendered) findIn(ns, kind, name string) (object, bool) {
	for _, o := range r.Objects {
		if o.GVK.Kind == kind && o.U.GetName() == name && o.Namespace() == ns {
			return o, true
		}
	}
	return object{}, false
}

// sidecar reports whether authproxy runs as a container of the ingress controller's pods
// (authproxy.mode sidecar): then its ConfigMaps, Secrets, Service and login route live in
// sidecarNamespace and no authproxy workload is rendered.
func (r *rendered) sidecar() bool { return r.stringValue("authproxy.mode") == "sidecar" }

// sidecarNamespace is authproxy.sidecar.namespace ("" unless sidecar mode is on).
func (r *rendered) sidecarNamespace() string {
	if !r.sidecar() {
		return ""
	}
	return r.stringValue("authproxy.sidecar.namespace")
}

// sidecarPodLabels is authproxy.sidecar.podLabels: the labels of the ingress controller's pods.
func (r *rendered) sidecarPodLabels() map[string]string {
	out := map[string]string{}
	m, _ := r.value("authproxy.sidecar.podLabels").(map[string]any)
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart %s: %v", chartDir, err)
	}
	return ch
}

func readValues(t testing.TB, path string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(path)
	if err != nil {
		t.Fatalf("read values %s: %v", path, err)
	}
	return v.AsMap()
}

// ciValueFiles lists charts/gatewarden/ci/*.yaml.
func ciValueFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no values files under %s/ci", chartDir)
	}
	sort.Strings(files)
	return files
}

// sidecarValuesFile is the ci values file that runs authproxy as a sidecar of Traefik.
const sidecarValuesFile = "traefik-sidecar-values.yaml"

// withMode returns a deep copy of vals with ingress.mode set.
func withMode(t testing.TB, vals map[string]any, mode string) map[string]any {
	t.Helper()
	return withValue(t, vals, "ingress", "mode", mode)
}

// withValue returns a deep copy of vals with section.key set.
func withValue(t testing.TB, vals map[string]any, section, key string, v any) map[string]any {
	t.Helper()
	out := deepCopy(t, vals)
	sec, _ := out[section].(map[string]any)
	if sec == nil {
		sec = map[string]any{}
		out[section] = sec
	}
	sec[key] = v
	return out
}

func deepCopy(t testing.TB, v map[string]any) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// scenarios are every ingress mode (on top of ci/traefik-values.yaml, which sets every required
// value), every ci/ values file, and a release name of Helm's maximum length (53).
func scenarios(t testing.TB) []scenario {
	t.Helper()
	base := readValues(t, filepath.Join(chartDir, "ci", "traefik-values.yaml"))
	var out []scenario
	for _, m := range ingressModes() {
		out = append(out, scenario{Name: "mode-" + m, Release: "gw", Values: withMode(t, base, m)})
	}
	for _, f := range ciValueFiles(t) {
		out = append(out, scenario{Name: "ci-" + strings.TrimSuffix(filepath.Base(f), ".yaml"), Release: "gw", Values: readValues(t, f)})
	}
	out = append(out, scenario{Name: "long-release-name", Release: strings.Repeat("r", 53), Values: base})
	return out
}

// renderValues renders the chart the way `helm install --dry-run` (client only) does, with
// values.schema.json validation, and returns the manifests (no hooks, no NOTES).
func renderValues(ctx context.Context, ch *chart.Chart, release, namespace string, vals map[string]any) (map[string]string, error) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.ClientOnly = true
	inst.DryRun = true
	inst.ReleaseName = release
	inst.Namespace = namespace
	inst.KubeVersion = kv
	inst.DisableHooks = true
	rel, err := inst.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, err
	}
	if len(rel.Hooks) > 0 {
		return nil, fmt.Errorf("chart renders %d hooks; the tests do not cover hooks", len(rel.Hooks))
	}
	return releaseutil.SplitManifests(rel.Manifest), nil
}

// newStrictDecoder returns a YAML decoder that fails on unknown and duplicate fields, for every
// built-in kind and the Gateway API kinds.
func newStrictDecoder(t testing.TB) (runtime.Decoder, *runtime.Scheme) {
	t.Helper()
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	if err := gatewayv1.Install(sch); err != nil {
		t.Fatal(err)
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, sch, sch, kjson.SerializerOptions{Yaml: true, Strict: true}), sch
}

var sourceRe = regexp.MustCompile(`(?m)^# Source: (.+)$`)

// decodeManifests decodes every manifest strictly; errors name the template.
func decodeManifests(dec runtime.Decoder, sch *runtime.Scheme, manifests map[string]string) ([]object, []error) {
	keys := make([]string, 0, len(manifests))
	for k := range manifests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return manifestIndex(keys[i]) < manifestIndex(keys[j]) })
	var objs []object
	var errs []error
	for _, k := range keys {
		doc := manifests[k]
		src := "?"
		if m := sourceRe.FindStringSubmatch(doc); m != nil {
			src = strings.TrimPrefix(m[1], "gatewarden/")
		}
		if strings.TrimSpace(sourceRe.ReplaceAllString(doc, "")) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: yaml: %w", src, err))
			continue
		}
		if err := u.UnmarshalJSON(js); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			continue
		}
		gvk := u.GroupVersionKind()
		o := object{Source: src, GVK: gvk, U: u, YAML: []byte(doc)}
		if isCRDKind(gvk) {
			objs = append(objs, o)
			continue
		}
		if !sch.Recognizes(gvk) {
			errs = append(errs, fmt.Errorf("%s: %s %s: kind not known to the Kubernetes API types (and not one of the CRD kinds the tests install)", src, gvk, u.GetName()))
			continue
		}
		typed, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %s: strict decode: %w", src, gvk.Kind, u.GetName(), err))
			continue
		}
		o.Typed = typed
		objs = append(objs, o)
	}
	return objs, errs
}

// manifestIndex orders SplitManifests keys ("manifest-12") numerically.
func manifestIndex(k string) int {
	var n int
	_, _ = fmt.Sscanf(k, "manifest-%d", &n)
	return n
}

// renderScenario renders and decodes one scenario, failing the test on any error.
func renderScenario(t testing.TB, ch *chart.Chart, sc scenario) *rendered {
	t.Helper()
	manifests, err := renderValues(context.Background(), ch, sc.Release, sc.namespace(), sc.Values)
	if err != nil {
		t.Fatalf("render %s: %v", sc.Name, err)
	}
	dec, sch := newStrictDecoder(t)
	objs, errs := decodeManifests(dec, sch, manifests)
	for _, e := range errs {
		t.Errorf("render %s: %v", sc.Name, e)
	}
	if len(objs) == 0 {
		t.Fatalf("render %s: no objects", sc.Name)
	}
	coalesced, err := chartutil.CoalesceValues(ch, deepCopy(t, sc.Values))
	if err != nil {
		t.Fatalf("coalesce values %s: %v", sc.Name, err)
	}
	return &rendered{Scenario: sc, Values: coalesced.AsMap(), Objects: objs}
}

// writeDebug writes the rendered manifests of a failing scenario next to the test output when
// CHARTTEST_DUMP is set (a folder).
func writeDebug(t testing.TB, r *rendered) {
	dir := os.Getenv("CHARTTEST_DUMP")
	if dir == "" || !t.Failed() {
		return
	}
	var b strings.Builder
	for _, o := range r.Objects {
		b.WriteString("---\n")
		b.Write(o.YAML)
		b.WriteString("\n")
	}
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, r.Scenario.Name+".yaml"), []byte(b.String()), 0o644)
}
