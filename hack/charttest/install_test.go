package charttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestInstall installs the chart into a real kube-apiserver (etcd + kube-apiserver built by
// hack/kubebin) for every ingress mode and every ci/ values file, each in its own namespace,
// after the vendored Traefik, Gateway API and Envoy Gateway CRDs. In sidecar mode the sidecar
// namespace (authproxy.sidecar.namespace) exists too, as Traefik's chart would have created it. Every object must be accepted:
// first by a server-side dry run with strict field validation (unknown fields fail, also in
// custom resources, whose CRD schemas apply), then by `helm install`.
func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver; skipped with -short")
	}
	t.Parallel()
	cp := startControlPlane(t)
	cfg := cp.restConfig()
	applyCRDs(t, cfg)

	ch := loadChart(t)
	var scs []scenario
	for _, sc := range scenarios(t) {
		if sc.Name == "long-release-name" {
			continue // same objects as mode-traefik, longer names: covered by TestRender
		}
		sc.Namespace = dnsLabel(sc.Name)
		scs = append(scs, sc)
	}
	t.Run("strict validation works", func(t *testing.T) {
		t.Parallel()
		strictRejects(t, cfg)
	})
	t.Run("each", func(t *testing.T) {
		for _, sc := range scs {
			t.Run(sc.Name, func(t *testing.T) {
				t.Parallel()
				installScenario(t, cp, cfg, ch, sc)
			})
		}
	})
}

// strictRejects proves the dry run would catch a chart mistake: an unknown field in a built-in
// object and in each CRD kind the chart renders is rejected.
func strictRejects(t *testing.T, cfg *rest.Config) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	createNamespace(t, cs, "strict-check")
	dyn, mapper := dynamicClient(t, cfg)
	objs := []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"b"},"bogus":1}`,
		`{"apiVersion":"traefik.io/v1alpha1","kind":"Middleware","metadata":{"name":"x"},"spec":{"forwardAuth":{"address":"http://a","trustForwardHeaders":false}}}`,
		`{"apiVersion":"traefik.io/v1alpha1","kind":"IngressRoute","metadata":{"name":"x"},"spec":{"routes":[{"match":"PathPrefix(` + "`/`" + `)","kind":"Rule","services":[{"name":"s","port":80}],"middleware":[{"name":"m"}]}]}}`,
		`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":"x"},"spec":{"parentRefs":[{"name":"eg"}],"rules":[{"backendRefs":[{"name":"s","port":80}],"filter":[]}]}}`,
		`{"apiVersion":"gateway.envoyproxy.io/v1alpha1","kind":"SecurityPolicy","metadata":{"name":"x"},"spec":{"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"x"}],"extAuth":{"failOpen":false,"http":{"backendRefs":[{"name":"s","port":80}]},"headersToBackends":["a"]}}}`,
	}
	for _, js := range objs {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON([]byte(js)); err != nil {
			t.Fatal(err)
		}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		_, err = dyn.Resource(m.Resource).Namespace("strict-check").Create(context.Background(), u, metav1.CreateOptions{
			DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict,
		})
		if err == nil || !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("%s with an unknown field: err = %v, want an unknown field error", gvk.Kind, err)
		}
	}
}

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)

func dnsLabel(s string) string {
	s = nonLabel.ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-")
}

func installScenario(t *testing.T, cp *controlPlane, cfg *rest.Config, ch *chart.Chart, sc scenario) {
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	createNamespace(t, cs, sc.Namespace)

	// 1. Every rendered object passes a strict server-side dry run, in its own namespace.
	r := renderScenario(t, ch, sc)
	namespaces := []string{sc.Namespace}
	if r.sidecar() {
		namespaces = append(namespaces, r.sidecarNamespace())
		ensureNamespace(t, cs, r.sidecarNamespace()) // shared by the sidecar scenarios
	}
	dyn, mapper := dynamicClient(t, cfg)
	for _, o := range r.Objects {
		m, err := mapper.RESTMapping(o.GVK.GroupKind(), o.GVK.Version)
		if err != nil {
			t.Errorf("%s: the apiserver does not serve %s: %v", o, o.GVK, err)
			continue
		}
		u := o.U.DeepCopy()
		_, err = dyn.Resource(m.Resource).Namespace(o.Namespace()).Create(ctx, u, metav1.CreateOptions{
			DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict,
		})
		if err != nil {
			t.Errorf("%s: rejected by the apiserver (strict dry run): %v", o, err)
		}
	}
	if t.Failed() {
		return
	}

	// 2. helm install.
	acfg := helmConfig(t, cp, sc.Namespace)
	inst := action.NewInstall(acfg)
	inst.ReleaseName = sc.Release
	inst.Namespace = sc.Namespace
	inst.Timeout = 2 * time.Minute
	rel, err := inst.RunWithContext(ctx, ch, deepCopy(t, sc.Values))
	if err != nil {
		t.Fatalf("helm install: %v", err)
	}
	if rel.Info.Status != release.StatusDeployed {
		t.Fatalf("release status %s, want deployed", rel.Info.Status)
	}
	for _, o := range r.Objects {
		m, err := mapper.RESTMapping(o.GVK.GroupKind(), o.GVK.Version)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dyn.Resource(m.Resource).Namespace(o.Namespace()).Get(ctx, o.Name(), metav1.GetOptions{}); err != nil {
			t.Errorf("%s: not on the server after helm install: %v", o, err)
		}
	}

	// 3. Generated secrets (cookie secret, Redis password) survive an upgrade: the chart looks
	// them up instead of generating new ones (which would log every user out).
	before := secretData(t, cs, namespaces...)
	for _, o := range r.byKind("Secret") {
		if _, ok := before[o.Namespace()+"/"+o.Name()]; !ok {
			t.Errorf("%s: not found by its labels after helm install", o)
		}
	}
	checkRedisCopies(t, r, before)
	up := action.NewUpgrade(acfg)
	up.Namespace = sc.Namespace
	up.Timeout = 2 * time.Minute
	if _, err := up.RunWithContext(ctx, sc.Release, ch, deepCopy(t, sc.Values)); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	after := secretData(t, cs, namespaces...)
	for name, data := range before {
		for k, v := range data {
			if !bytes.Equal(after[name][k], v) {
				t.Errorf("helm upgrade changed Secret %s key %s", name, k)
			}
		}
	}
	checkRedisCopies(t, r, after)
}

// checkRedisCopies: on the server, the sidecar's copy of each Redis password Secret holds what
// the release namespace's holds (the generated password is looked up in one, copied to the other).
func checkRedisCopies(t *testing.T, r *rendered, secrets map[string]map[string][]byte) {
	t.Helper()
	if !r.sidecar() {
		return
	}
	for _, o := range r.byKind("Secret") {
		if o.Namespace() != r.sidecarNamespace() || o.U.GetLabels()["app.kubernetes.io/component"] != "redis" {
			continue
		}
		orig, copied := secrets[r.Scenario.namespace()+"/"+o.Name()], secrets[o.Namespace()+"/"+o.Name()]
		if len(orig) == 0 || !reflect.DeepEqual(orig, copied) {
			t.Errorf("%s: on the server the copy differs from Secret %s/%s", o, r.Scenario.namespace(), o.Name())
		}
	}
}

// secretData returns the data of the chart's Secrets in the namespaces, by namespace/name.
func secretData(t *testing.T, cs kubernetes.Interface, namespaces ...string) map[string]map[string][]byte {
	t.Helper()
	out := map[string]map[string][]byte{}
	for _, ns := range namespaces {
		list, err := cs.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=Helm,app.kubernetes.io/part-of=gatewarden"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list.Items {
			out[ns+"/"+s.Name] = s.Data
		}
	}
	return out
}

// createNamespace creates the namespace and its default ServiceAccount (no controller manager
// runs to create it).
func createNamespace(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	createDefaultServiceAccount(t, cs, ns)
}

// ensureNamespace is createNamespace for a namespace several tests may create.
func ensureNamespace(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	createDefaultServiceAccount(t, cs, ns)
}

func createDefaultServiceAccount(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create default ServiceAccount in %s: %v", ns, err)
	}
}

func dynamicClient(t *testing.T, cfg *rest.Config) (dynamic.Interface, *restmapper.DeferredDiscoveryRESTMapper) {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
}

// helmConfig returns a Helm action configuration for the test apiserver and namespace (release
// storage in Secrets, as the CLI does).
func helmConfig(t *testing.T, cp *controlPlane, ns string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &cp.Kubeconfig
	flags.Namespace = &ns
	cache := t.TempDir()
	flags.CacheDir = &cache
	acfg := &action.Configuration{}
	logf := func(format string, v ...any) { t.Logf("helm: "+format, v...) }
	if err := acfg.Init(flags, ns, "secret", logf); err != nil {
		t.Fatalf("helm init: %v", err)
	}
	return acfg
}

// applyCRDs creates every CRD under testdata/crds and waits until the apiserver serves them.
func applyCRDs(t *testing.T, cfg *rest.Config) {
	t.Helper()
	ctx := context.Background()
	client, err := apiextclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("testdata/crds/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs under testdata/crds: %v", err)
	}
	sort.Strings(files)
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var crd apiextv1.CustomResourceDefinition
			if err := dec.Decode(&crd); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			if crd.Name == "" {
				continue
			}
			if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
				t.Fatalf("%s: create CRD %s: %v", f, crd.Name, err)
			}
			names = append(names, crd.Name)
		}
	}
	pending := names
	// Polling the apiserver; no watch needed for a few CRDs.
	err = testkit.Poll(ctx, "CRDs established", time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		for len(pending) > 0 {
			crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, pending[0], metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("CRD %s: %w", pending[0], err)
			}
			if !crdEstablished(crd) {
				return fmt.Errorf("CRD %s not established", pending[0])
			}
			pending = pending[1:]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d CRDs established", len(names))
}

func crdEstablished(crd *apiextv1.CustomResourceDefinition) bool {
	ok := 0
	for _, c := range crd.Status.Conditions {
		if (c.Type == apiextv1.Established || c.Type == apiextv1.NamesAccepted) && c.Status == apiextv1.ConditionTrue {
			ok++
		}
	}
	return ok == 2
}
