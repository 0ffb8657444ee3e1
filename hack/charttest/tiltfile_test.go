package charttest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The Tiltfile cannot run here (no Docker, no kind), so these tests check what can be known
// without Tilt. TestTiltfile runs the repository's Tiltfile under Starlark with stand-ins for
// Tilt's functions (tiltfake_test.go) for each --ingress, with the chart rendered by Helm's SDK
// from the Tiltfile's own helm() arguments, and checks the declarations against that YAML:
//
//   - every object selector of a k8s_resource names exactly one object Tilt was given, every
//     workload= names a workload, and no object is left for Tilt's "uncategorized";
//   - every workload of the chart is a resource named after its component;
//   - every resource_deps entry names a resource, no name is used twice, no local port twice;
//   - every port forward of a chart workload targets a port its containers declare;
//   - every image built is used by an object (otherwise Tilt builds it for nothing);
//   - every helm_resource installs a chart listed in k8s/charts.yaml, at that exact version
//     (--version), from a repository declared with helm_repo (or an OCI reference), with values
//     files that exist and are watched (deps); every version in k8s/charts.yaml is exact.
//
// What only Tilt proves: that its real functions behave as the stand-ins assume (Service
// grouping by selector, selector matching, the helm_resource extension passing --version on),
// that the pinned charts exist at those versions and accept the values files, that the images
// build, that live_update, the port forwards and the resource order work on a cluster.

var exactVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+$`)

// tiltAssembly is what Tilt would make of a run: resources and the objects in each.
type tiltAssembly struct {
	resources map[string][]k8sObject // by final resource name
	workload  map[string]k8sObject   // the workload of each workload resource
	problems  []string
}

func (a *tiltAssembly) problem(format string, args ...any) {
	a.problems = append(a.problems, fmt.Sprintf(format, args...))
}

// assemble emulates Tilt's grouping: objects claimed by k8s_resource(objects=...) first, then
// one resource per remaining workload (named after the object, or name:kind when names clash)
// with the Services selecting its pods, then k8s_resource(workload=...) renaming and extending
// those; whatever is left would be "uncategorized".
func assemble(run *tiltRun) *tiltAssembly {
	a := &tiltAssembly{resources: map[string][]k8sObject{}, workload: map[string]k8sObject{}}
	seen := map[string]bool{}
	for _, o := range run.objects {
		if seen[o.String()] {
			a.problem("%s is given to k8s_yaml twice", o)
		}
		seen[o.String()] = true
	}
	claimed := make([]bool, len(run.objects))
	extra := map[int][]k8sObject{} // k8s_resource call index -> objects it claimed
	for i, r := range run.k8sResources {
		for _, sel := range r.Objects {
			var hits []int
			for j, o := range run.objects {
				if !claimed[j] && tiltSelectorMatches(sel, o) {
					hits = append(hits, j)
				}
			}
			switch len(hits) {
			case 0:
				a.problem("k8s_resource %s: selector %q matches no object (not yet claimed) given to k8s_yaml", r.label(), sel)
			case 1:
				claimed[hits[0]] = true
				extra[i] = append(extra[i], run.objects[hits[0]])
			default:
				a.problem("k8s_resource %s: selector %q matches %d objects", r.label(), sel, len(hits))
			}
		}
	}

	// Workload resources, named as Tilt names them.
	var workloads []int
	names := map[string]int{}
	for j, o := range run.objects {
		if !claimed[j] && podSpec(o.Obj) != nil {
			workloads = append(workloads, j)
			names[o.Name]++
		}
	}
	byName := map[string]string{} // Tilt's workload name -> resource name (renamed later)
	for _, j := range workloads {
		o := run.objects[j]
		claimed[j] = true
		name := o.Name
		if names[o.Name] > 1 {
			name = o.Name + ":" + strings.ToLower(o.Kind)
		}
		byName[name] = name
		a.workload[name] = o
		a.resources[name] = append(a.resources[name], o)
		for k, s := range run.objects {
			if !claimed[k] && s.Kind == "Service" && serviceSelects(s, o) {
				claimed[k] = true
				a.resources[name] = append(a.resources[name], s)
			}
		}
	}

	for i, r := range run.k8sResources {
		switch {
		case r.Workload != "":
			name, ok := byName[r.Workload]
			if !ok {
				a.problem("k8s_resource %s: no workload named %q among the objects given to k8s_yaml", r.label(), r.Workload)
				continue
			}
			final := name
			if r.NewName != "" {
				final = r.NewName
				if _, taken := a.resources[final]; taken {
					a.problem("k8s_resource %s: resource name %q is taken", r.label(), final)
					continue
				}
				a.resources[final] = a.resources[name]
				a.workload[final] = a.workload[name]
				delete(a.resources, name)
				delete(a.workload, name)
				byName[r.Workload] = final
			}
			a.resources[final] = append(a.resources[final], extra[i]...)
		case r.NewName != "":
			if _, taken := a.resources[r.NewName]; taken {
				a.problem("k8s_resource %s: resource name %q is taken", r.label(), r.NewName)
				continue
			}
			if len(extra[i]) == 0 {
				a.problem("k8s_resource %s: no objects (Tilt: could not associate any k8s YAML with this resource)", r.label())
			}
			a.resources[r.NewName] = extra[i]
		default:
			a.problem("k8s_resource with neither workload nor new_name")
		}
	}
	for j, o := range run.objects {
		if !claimed[j] {
			a.problem("%s would be left uncategorized: no k8s_resource claims it", o)
		}
	}
	return a
}

func (r k8sResourceCall) label() string {
	if r.NewName != "" {
		return strconv.Quote(r.NewName)
	}
	return strconv.Quote(r.Workload)
}

// tiltSelectorMatches reports whether a Tilt object selector "name[:kind[:namespace]]" names o
// (each part compared case-insensitively, as Tilt does for plain names).
func tiltSelectorMatches(sel string, o k8sObject) bool {
	parts := strings.Split(sel, ":")
	want := []string{o.Name, o.Kind, o.Namespace}
	if len(parts) > len(want) {
		return false
	}
	for i, p := range parts {
		if !strings.EqualFold(p, want[i]) {
			return false
		}
	}
	return true
}

// podSpec returns the pod spec of a workload object, nil for anything else.
func podSpec(obj map[string]any) map[string]any {
	kind, _ := obj["kind"].(string)
	spec, _ := obj["spec"].(map[string]any)
	switch kind {
	case "Pod":
		return spec
	case "CronJob":
		jt, _ := spec["jobTemplate"].(map[string]any)
		js, _ := jt["spec"].(map[string]any)
		spec = js
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
	default:
		return nil
	}
	tmpl, _ := spec["template"].(map[string]any)
	ps, _ := tmpl["spec"].(map[string]any)
	return ps
}

func podTemplateLabels(obj map[string]any) map[string]any {
	spec, _ := obj["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	meta, _ := tmpl["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	return labels
}

func serviceSelects(svc, workload k8sObject) bool {
	if svc.Namespace != workload.Namespace {
		return false
	}
	spec, _ := svc.Obj["spec"].(map[string]any)
	sel, _ := spec["selector"].(map[string]any)
	labels := podTemplateLabels(workload.Obj)
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func containers(obj map[string]any) []map[string]any {
	ps := podSpec(obj)
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := ps[key].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func imageName(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// tiltProblems checks a run and its assembly (see the comment at the top of this file).
// charts is k8s/charts.yaml: chart name -> {repo, chart, version}.
func tiltProblems(root string, run *tiltRun, charts map[string]thirdPartyChart) []string {
	a := assemble(run)
	problems := a.problems

	// Resource names and dependencies.
	names := map[string]int{}
	for n := range a.resources {
		names[n]++
	}
	for _, n := range run.localNames {
		names[n]++
	}
	for _, h := range run.helmRepos {
		names[h.ResourceName]++
	}
	for _, h := range run.helmResources {
		names[h.Name]++
	}
	for _, n := range sortedKeys(names) {
		if names[n] > 1 {
			problems = append(problems, fmt.Sprintf("resource name %q is used %d times", n, names[n]))
		}
	}
	deps := map[string][]string{}
	for _, r := range run.k8sResources {
		name := r.NewName
		if name == "" {
			name = r.Workload
		}
		deps[name] = append(deps[name], r.ResourceDeps...)
	}
	for n, d := range run.localDeps {
		deps[n] = append(deps[n], d...)
	}
	for _, h := range run.helmResources {
		deps[h.Name] = append(deps[h.Name], h.ResourceDeps...)
	}
	for _, n := range sortedKeys(deps) {
		for _, d := range deps[n] {
			if names[d] == 0 {
				problems = append(problems, fmt.Sprintf("resource %q depends on %q, which no resource is named", n, d))
			}
		}
	}

	// Port forwards: local ports unique; container ports declared by the workload.
	local := map[string]string{}
	forward := func(owner, pf string) (container string) {
		l, c, _ := strings.Cut(pf, ":")
		if prev, ok := local[l]; ok {
			problems = append(problems, fmt.Sprintf("local port %s is forwarded by %q and %q", l, prev, owner))
		}
		local[l] = owner
		if c == "" {
			c = l
		}
		return c
	}
	for _, h := range run.helmResources {
		for _, pf := range h.PortForwards {
			forward(h.Name, pf)
		}
	}
	for _, r := range run.k8sResources {
		name := r.NewName
		if name == "" {
			name = r.Workload
		}
		for _, pf := range r.PortForwards {
			c := forward(name, pf)
			w, ok := a.workload[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("resource %q forwards %s but has no workload", name, pf))
				continue
			}
			if !declaresPort(w.Obj, c) {
				problems = append(problems, fmt.Sprintf("resource %q forwards %s, but %s declares no container port %s", name, pf, w, c))
			}
		}
	}

	// Images built must be used.
	used := map[string]bool{}
	for _, o := range run.objects {
		for _, c := range containers(o.Obj) {
			if img, ok := c["image"].(string); ok {
				used[imageName(img)] = true
			}
		}
	}
	for _, img := range run.images {
		if !used[imageName(img)] {
			problems = append(problems, fmt.Sprintf("image %q is built, but no object given to k8s_yaml uses it", img))
		}
	}

	// Third-party charts: pinned, listed in k8s/charts.yaml, from a declared repository.
	repos := map[string]bool{}
	for _, h := range run.helmRepos {
		repos[h.Name] = true
	}
	for _, h := range run.helmResources {
		problems = append(problems, helmResourceProblems(root, h, repos, charts)...)
	}
	return problems
}

func declaresPort(obj map[string]any, port string) bool {
	for _, c := range containers(obj) {
		ports, _ := c["ports"].([]any)
		for _, p := range ports {
			pm, _ := p.(map[string]any)
			if fmt.Sprint(pm["containerPort"]) == port {
				return true
			}
		}
	}
	return false
}

func helmResourceProblems(root string, h helmResourceCall, repos map[string]bool, charts map[string]thirdPartyChart) []string {
	var problems []string
	var versions, values []string
	for _, f := range h.Flags {
		switch {
		case strings.HasPrefix(f, "--version="):
			versions = append(versions, strings.TrimPrefix(f, "--version="))
		case f == "--version":
			problems = append(problems, fmt.Sprintf("helm_resource %q: write --version=X as one flag", h.Name))
		case strings.HasPrefix(f, "--values="):
			values = append(values, strings.TrimPrefix(f, "--values="))
		case strings.HasPrefix(f, "-f"), strings.HasPrefix(f, "--values"):
			problems = append(problems, fmt.Sprintf("helm_resource %q: write values files as --values=FILE (%q)", h.Name, f))
		case strings.HasPrefix(f, "--set-file="):
			_, file, _ := strings.Cut(strings.TrimPrefix(f, "--set-file="), "=")
			values = append(values, file)
		}
	}
	switch {
	case len(versions) != 1:
		problems = append(problems, fmt.Sprintf("helm_resource %q: %d --version flags, want exactly one", h.Name, len(versions)))
	case !exactVersion.MatchString(versions[0]):
		problems = append(problems, fmt.Sprintf("helm_resource %q: --version=%s is not an exact version", h.Name, versions[0]))
	}
	listed := false
	for _, c := range charts {
		if c.Chart == h.Chart {
			listed = true
			if len(versions) == 1 && versions[0] != c.Version {
				problems = append(problems, fmt.Sprintf("helm_resource %q: --version=%s, k8s/charts.yaml pins %s", h.Name, versions[0], c.Version))
			}
		}
	}
	if !listed {
		problems = append(problems, fmt.Sprintf("helm_resource %q: chart %q is not listed in k8s/charts.yaml", h.Name, h.Chart))
	}
	if !strings.HasPrefix(h.Chart, "oci://") {
		repo, _, ok := strings.Cut(h.Chart, "/")
		if !ok || !repos[repo] {
			problems = append(problems, fmt.Sprintf("helm_resource %q: chart %q is from no repository declared with helm_repo", h.Name, h.Chart))
		}
	}
	for _, v := range values {
		if _, err := os.Stat(filepath.Join(root, v)); err != nil {
			problems = append(problems, fmt.Sprintf("helm_resource %q: %v", h.Name, err))
		}
		if !slices.Contains(h.Deps, v) {
			problems = append(problems, fmt.Sprintf("helm_resource %q: %s is not in deps, so editing it would not reinstall", h.Name, v))
		}
	}
	return problems
}

// thirdPartyChart is one entry of k8s/charts.yaml.
type thirdPartyChart struct {
	Repo    string `json:"repo"`
	Chart   string `json:"chart"`
	Version string `json:"version"`
}

func readThirdPartyCharts(t *testing.T, root string) map[string]thirdPartyChart {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "k8s", "charts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var charts map[string]thirdPartyChart
	if err := yaml.UnmarshalStrict(b, &charts); err != nil {
		t.Fatalf("k8s/charts.yaml: %v", err)
	}
	return charts
}

const repoRoot = "../.."

// TestTiltfileChartPins: every third-party chart of the development cluster is pinned to an
// exact version, and one from a repository names that repository.
func TestTiltfileChartPins(t *testing.T) {
	t.Parallel()
	charts := readThirdPartyCharts(t, repoRoot)
	if len(charts) == 0 {
		t.Fatal("k8s/charts.yaml lists no chart")
	}
	for _, name := range sortedKeys(charts) {
		c := charts[name]
		if !exactVersion.MatchString(c.Version) {
			t.Errorf("k8s/charts.yaml %s: version %q is not exact (want e.g. 1.2.3)", name, c.Version)
		}
		oci := strings.HasPrefix(c.Chart, "oci://")
		if oci != (c.Repo == "") {
			t.Errorf("k8s/charts.yaml %s: chart %q with repo %q: an OCI chart has no repo, any other needs one", name, c.Chart, c.Repo)
		}
	}
}

// TestTiltfile runs the Tiltfile for each --ingress and checks what Tilt would assemble.
func TestTiltfile(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join(repoRoot, "Tiltfile"))
	if err != nil {
		t.Fatal(err)
	}
	charts := readThirdPartyCharts(t, repoRoot)
	installed := map[string]bool{}
	for _, ingress := range []string{"traefik", "gatewayAPI"} {
		t.Run(ingress, func(t *testing.T) {
			run, err := runTiltfile(repoRoot, "Tiltfile", src, map[string]string{"ingress": ingress})
			if err != nil {
				t.Fatalf("Tiltfile: %v", err)
			}
			for _, p := range tiltProblems(repoRoot, run, charts) {
				t.Error(p)
			}
			// Every workload of the chart is a resource named after its component.
			a := assemble(run)
			for name, w := range a.workload {
				if objectLabel(w.Obj, "app.kubernetes.io/part-of") != "gatewarden" {
					continue // not the chart's (FusionAuth's database)
				}
				if c := objectLabel(w.Obj, "app.kubernetes.io/component"); c != name {
					t.Errorf("%s (component %q) is in resource %q, want a resource named after its component", w, c, name)
				}
			}
			for _, h := range run.helmResources {
				installed[h.Chart] = true
			}
		})
	}
	for _, name := range sortedKeys(charts) {
		if !installed[charts[name].Chart] {
			t.Errorf("k8s/charts.yaml %s: no --ingress installs %s; drop it or install it", name, charts[name].Chart)
		}
	}
}

func objectLabel(obj map[string]any, key string) string {
	meta, _ := obj["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	v, _ := labels[key].(string)
	return v
}

// TestTiltfileChecks breaks a small Tiltfile one way per case and expects the matching problem,
// so that TestTiltfile cannot pass for want of looking; the first case must have none.
func TestTiltfileChecks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for name, content := range map[string]string{
		"k8s/charts.yaml": "x:\n  repo: https://example.com/charts\n  chart: x/x\n  version: 1.2.3\n",
		"x-values.yaml":   "a: 1\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const prelude = `
load("ext://helm_resource", "helm_repo", "helm_resource")
load("ext://restart_process", "docker_build_with_restart")
def deployment(name, image = "app/web:dev", port = 8080):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": image, "ports": [{"name": "http", "containerPort": port}]}]}}}}
def service(name, selects):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"selector": {"app": selects}, "ports": [{"port": 80}]}}
def object(kind, name):
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "ns"}}
helm_repo("x", "https://example.com/charts", resource_name = "x-repo")
`
	const good = `
k8s_yaml(encode_yaml_stream([deployment("web"), service("web", "web"), object("ConfigMap", "web-config")]))
k8s_resource("web", new_name = "app", objects = ["web-config:configmap:ns"], port_forwards = ["9000:8080"], resource_deps = ["x", "build"])
local_resource("build", cmd = "true")
docker_build_with_restart("app/web", context = ".", entrypoint = ["/web"], live_update = [sync("bin", "/bin")], only = ["bin"])
helm_resource("x", "x/x", flags = ["--version=1.2.3", "--values=x-values.yaml"], deps = ["x-values.yaml"], resource_deps = ["x-repo"])
`
	tests := []struct {
		name string
		src  string
		want string // "" = no problem
	}{
		{name: "a clean Tiltfile", src: good},
		{name: "an object selector that matches nothing",
			src: strings.Replace(good, `"web-config:configmap:ns"`, `"web-config:configmap:ns", "gone:secret"`, 1), want: `selector "gone:secret" matches no object`},
		{name: "an object nobody claims",
			src: strings.Replace(good, `object("ConfigMap", "web-config")]`, `object("ConfigMap", "web-config"), object("Secret", "stray")]`, 1), want: "stray:secret:ns would be left uncategorized"},
		{name: "a workload that does not exist",
			src: strings.Replace(good, `k8s_resource("web",`, `k8s_resource("website",`, 1), want: `no workload named "website"`},
		{name: "a dependency on no resource",
			src: strings.Replace(good, `resource_deps = ["x", "build"]`, `resource_deps = ["x", "biuld"]`, 1), want: `depends on "biuld"`},
		{name: "a port forward to a port the container lacks",
			src: strings.Replace(good, `"9000:8080"`, `"9000:9090"`, 1), want: "declares no container port 9090"},
		{name: "an image nobody uses",
			src: strings.Replace(good, `docker_build_with_restart("app/web"`, `docker_build_with_restart("app/api"`, 1), want: `image "app/api" is built, but no object`},
		{name: "a chart without a version",
			src: strings.Replace(good, `"--version=1.2.3", `, ``, 1), want: "0 --version flags"},
		{name: "a version range",
			src: strings.Replace(good, `--version=1.2.3`, `--version=^1.2`, 1), want: "--version=^1.2 is not an exact version"},
		{name: "a version other than k8s/charts.yaml's",
			src: strings.Replace(good, `--version=1.2.3`, `--version=1.2.4`, 1), want: "k8s/charts.yaml pins 1.2.3"},
		{name: "a chart from an undeclared repository",
			src: strings.Replace(good, `helm_resource("x", "x/x"`, `helm_resource("x", "y/x"`, 1), want: `chart "y/x" is from no repository`},
		{name: "a values file not watched",
			src: strings.Replace(good, `deps = ["x-values.yaml"]`, `deps = []`, 1), want: "x-values.yaml is not in deps"},
		{name: "an unknown keyword, as Tilt would refuse it",
			src: strings.Replace(good, `port_forwards =`, `port_forward =`, 1), want: `unexpected keyword argument "port_forward"`},
	}
	charts := readThirdPartyCharts(t, root)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var problems []string
			run, err := runTiltfile(root, "Tiltfile", []byte(prelude+tt.src), nil)
			if err != nil {
				problems = []string{err.Error()}
			} else {
				problems = tiltProblems(root, run, charts)
			}
			if tt.want == "" {
				if len(problems) > 0 {
					t.Fatalf("problems in a clean Tiltfile:\n%s", strings.Join(problems, "\n"))
				}
				return
			}
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem containing %q; got:\n%s", tt.want, strings.Join(problems, "\n"))
			}
		})
	}
}
