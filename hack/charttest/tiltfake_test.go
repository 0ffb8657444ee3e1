package charttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
	yaml "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
	sigsyaml "sigs.k8s.io/yaml"
)

// This file runs a Tiltfile under Starlark with stand-ins for the Tilt functions and extensions
// it uses, and records what it declares. The stand-ins take the parameters Tilt's own functions
// take (an unknown keyword fails, as in Tilt), helm() renders the chart with Helm's SDK, and
// read_yaml/decode_yaml_stream/encode_yaml_stream work on real files and YAML. What Tilt then
// assembles from the declarations is emulated in tiltfile_test.go.

// tiltRun is what one run of a Tiltfile declared.
type tiltRun struct {
	objects       []k8sObject // every object given to k8s_yaml, in order
	k8sResources  []k8sResourceCall
	localNames    []string
	localDeps     map[string][]string
	helmRepos     []helmRepoCall
	helmResources []helmResourceCall
	images        []string // docker_build refs
}

type k8sObject struct {
	Name, Kind, Namespace string
	Obj                   map[string]any
}

func (o k8sObject) String() string {
	if o.Namespace == "" {
		return o.Name + ":" + strings.ToLower(o.Kind)
	}
	return o.Name + ":" + strings.ToLower(o.Kind) + ":" + o.Namespace
}

type k8sResourceCall struct {
	Workload, NewName string
	Objects           []string
	PortForwards      []string
	ResourceDeps      []string
}

type helmRepoCall struct{ Name, URL, ResourceName string }

type helmResourceCall struct {
	Name, Chart, Namespace string
	Flags, Deps            []string
	ResourceDeps           []string
	PortForwards           []string
}

// tiltFake holds the stand-ins' state for one run.
type tiltFake struct {
	root string            // the repository root: Tiltfile paths are relative to it
	args map[string]string // config.parse() answers, e.g. {"ingress": "gatewayAPI"}
	run  tiltRun
}

// blob is Tilt's Blob: text that str() returns and k8s_yaml takes as YAML, not as a path.
type blob string

func (b blob) String() string        { return string(b) }
func (b blob) Type() string          { return "blob" }
func (b blob) Freeze()               {}
func (b blob) Truth() starlark.Bool  { return len(b) > 0 }
func (b blob) Hash() (uint32, error) { return starlark.String(b).Hash() }

// opaque stands for values the checks do not look into (sync steps, links).
type opaque string

func (o opaque) String() string        { return string(o) }
func (o opaque) Type() string          { return string(o) }
func (o opaque) Freeze()               {}
func (o opaque) Truth() starlark.Bool  { return true }
func (o opaque) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", o) }

// runTiltfile executes src (named name) and returns what it declared.
func runTiltfile(root, name string, src []byte, args map[string]string) (*tiltRun, error) {
	f := &tiltFake{root: root, args: args, run: tiltRun{localDeps: map[string][]string{}}}
	thread := &starlark.Thread{Name: name, Load: f.load, Print: func(*starlark.Thread, string) {}}
	// Tilt's dialect: top-level if/for, reassigned globals, sets, recursion.
	opts := &syntax.FileOptions{TopLevelControl: true, GlobalReassign: true, Set: true, Recursion: true, While: true}
	if _, err := starlark.ExecFileOptions(opts, thread, name, src, f.predeclared()); err != nil {
		var ee *starlark.EvalError
		if errors.As(err, &ee) {
			return nil, errors.New(ee.Backtrace())
		}
		return nil, err
	}
	return &f.run, nil
}

func (f *tiltFake) builtin(name string, fn func(args map[string]starlark.Value) (starlark.Value, error), params ...string) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		bound, err := bind(b.Name(), args, kwargs, params)
		if err != nil {
			return nil, err
		}
		return fn(bound)
	})
}

func (f *tiltFake) predeclared() starlark.StringDict {
	none := func(map[string]starlark.Value) (starlark.Value, error) { return starlark.None, nil }
	config := &starlarkstruct.Module{Name: "config", Members: starlark.StringDict{
		"define_string":      f.builtin("config.define_string", none, "name", "args?", "usage?"),
		"define_bool":        f.builtin("config.define_bool", none, "name", "args?", "usage?"),
		"define_string_list": f.builtin("config.define_string_list", none, "name", "args?", "usage?"),
		"parse":              f.builtin("config.parse", f.configParse),
	}}
	return starlark.StringDict{
		"struct":             starlark.NewBuiltin("struct", starlarkstruct.Make),
		"config":             config,
		"allow_k8s_contexts": f.builtin("allow_k8s_contexts", none, "contexts"),
		"update_settings":    f.builtin("update_settings", none, "max_parallel_updates?", "k8s_upsert_timeout_secs?", "suppress_unused_image_warnings?"),
		"watch_file":         f.builtin("watch_file", none, "path"),
		"local":              f.builtin("local", f.local, "command", "quiet?", "command_bat?", "echo_off?", "env?", "dir?", "stdin?"),
		"read_yaml":          f.builtin("read_yaml", f.readYAML(false), "paths", "default?"),
		"read_yaml_stream":   f.builtin("read_yaml_stream", f.readYAML(true), "paths", "default?"),
		"decode_yaml_stream": f.builtin("decode_yaml_stream", f.decodeYAMLStream, "yaml"),
		"encode_yaml_stream": f.builtin("encode_yaml_stream", f.encodeYAMLStream, "objs"),
		"helm":               f.builtin("helm", f.helm, "paths", "name?", "namespace?", "values?", "set?", "kube_version?", "skip_crds?"),
		"k8s_yaml":           f.builtin("k8s_yaml", f.k8sYAML, "yaml", "allow_duplicates?"),
		"k8s_resource": f.builtin("k8s_resource", f.k8sResource, "workload?", "new_name?", "port_forwards?", "extra_pod_selectors?",
			"trigger_mode?", "resource_deps?", "objects?", "auto_init?", "labels?", "links?", "pod_readiness?", "discovery_strategy?"),
		"local_resource": f.builtin("local_resource", f.localResource, "name", "cmd?", "deps?", "trigger_mode?", "resource_deps?", "ignore?",
			"auto_init?", "serve_cmd?", "cmd_bat?", "serve_cmd_bat?", "allow_parallel?", "links?", "tags?", "env?", "serve_env?",
			"readiness_probe?", "dir?", "serve_dir?", "labels?"),
		"sync": f.builtin("sync", func(map[string]starlark.Value) (starlark.Value, error) { return opaque("sync"), nil }, "local_path", "remote_path"),
		"link": f.builtin("link", func(map[string]starlark.Value) (starlark.Value, error) { return opaque("link"), nil }, "url", "name?"),
	}
}

// load serves the extensions the Tiltfile loads.
func (f *tiltFake) load(_ *starlark.Thread, module string) (starlark.StringDict, error) {
	switch module {
	case "ext://helm_resource":
		return starlark.StringDict{
			"helm_repo": f.builtin("helm_repo", f.helmRepo, "name", "url", "resource_name?", "labels?", "username?", "password?"),
			"helm_resource": f.builtin("helm_resource", f.helmResource, "name", "chart", "deps?", "image_deps?", "image_keys?", "flags?",
				"image_selector?", "container_selector?", "resource_deps?", "namespace?", "release_name?", "labels?", "port_forwards?",
				"links?", "auto_init?", "pod_readiness?", "update_dependencies?"),
		}, nil
	case "ext://restart_process":
		return starlark.StringDict{"docker_build_with_restart": f.dockerBuildWithRestart()}, nil
	}
	return nil, fmt.Errorf("the stand-ins have no extension %q: add it to tiltfake_test.go", module)
}

// bind maps positional and keyword arguments onto params ("name" required, "name?" optional),
// failing on an unknown keyword or a missing required parameter as Tilt does.
func bind(fn string, args starlark.Tuple, kwargs []starlark.Tuple, params []string) (map[string]starlark.Value, error) {
	out := map[string]starlark.Value{}
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = strings.TrimSuffix(p, "?")
	}
	if len(args) > len(params) {
		return nil, fmt.Errorf("%s: got %d positional arguments, takes at most %d", fn, len(args), len(params))
	}
	for i, a := range args {
		out[names[i]] = a
	}
	for _, kv := range kwargs {
		k := string(kv[0].(starlark.String))
		if !containsString(names, k) {
			return nil, fmt.Errorf("%s: unexpected keyword argument %q", fn, k)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: got multiple values for %q", fn, k)
		}
		out[k] = kv[1]
	}
	for i, p := range params {
		if _, ok := out[names[i]]; !ok && !strings.HasSuffix(p, "?") {
			return nil, fmt.Errorf("%s: missing argument %q", fn, names[i])
		}
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (f *tiltFake) configParse(map[string]starlark.Value) (starlark.Value, error) {
	d := starlark.NewDict(len(f.args))
	for _, k := range sortedKeys(f.args) {
		if err := d.SetKey(starlark.String(k), starlark.String(f.args[k])); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (f *tiltFake) local(a map[string]starlark.Value) (starlark.Value, error) {
	cmd, _ := starlark.AsString(a["command"])
	if cmd == "go env GOARCH" {
		return blob("amd64\n"), nil
	}
	return nil, fmt.Errorf("local: the stand-in runs no command %q: add it to tiltfake_test.go", cmd)
}

func (f *tiltFake) path(v starlark.Value) (string, error) {
	s, ok := starlark.AsString(v)
	if !ok {
		return "", fmt.Errorf("want a path, got %s", v.Type())
	}
	return filepath.Join(f.root, s), nil
}

func (f *tiltFake) readYAML(stream bool) func(map[string]starlark.Value) (starlark.Value, error) {
	return func(a map[string]starlark.Value) (starlark.Value, error) {
		p, err := f.path(a["paths"])
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		docs, err := decodeYAMLDocs(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if stream {
			return toStarlark(docs)
		}
		if len(docs) != 1 {
			return nil, fmt.Errorf("read_yaml %s: %d documents, want 1", p, len(docs))
		}
		return toStarlark(docs[0])
	}
}

func (f *tiltFake) decodeYAMLStream(a map[string]starlark.Value) (starlark.Value, error) {
	text, err := yamlText(a["yaml"])
	if err != nil {
		return nil, err
	}
	docs, err := decodeYAMLDocs([]byte(text))
	if err != nil {
		return nil, err
	}
	return toStarlark(docs)
}

func (f *tiltFake) encodeYAMLStream(a map[string]starlark.Value) (starlark.Value, error) {
	objs, err := fromStarlark(a["objs"])
	if err != nil {
		return nil, err
	}
	list, ok := objs.([]any)
	if !ok {
		return nil, fmt.Errorf("encode_yaml_stream: want a list, got %T", objs)
	}
	var b strings.Builder
	for _, o := range list {
		y, err := sigsyaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return blob(b.String()), nil
}

func yamlText(v starlark.Value) (string, error) {
	switch v := v.(type) {
	case blob:
		return string(v), nil
	case starlark.String:
		return string(v), nil
	}
	return "", fmt.Errorf("want YAML text, got %s", v.Type())
}

func decodeYAMLDocs(b []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if v != nil {
			out = append(out, v)
		}
	}
}

// helm renders a chart as `helm template` does, with Helm's SDK.
func (f *tiltFake) helm(a map[string]starlark.Value) (starlark.Value, error) {
	dir, err := f.path(a["paths"])
	if err != nil {
		return nil, err
	}
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	name, _ := starlark.AsString(a["name"])
	namespace, _ := starlark.AsString(a["namespace"])
	vals := map[string]any{}
	files, err := stringList(a["values"])
	if err != nil {
		return nil, fmt.Errorf("helm values: %w", err)
	}
	for _, file := range files {
		v, err := chartutil.ReadValuesFile(filepath.Join(f.root, file))
		if err != nil {
			return nil, err
		}
		vals = mergeValues(vals, v.AsMap())
	}
	sets, err := stringList(a["set"])
	if err != nil {
		return nil, fmt.Errorf("helm set: %w", err)
	}
	for _, s := range sets {
		if err := strvals.ParseInto(s, vals); err != nil {
			return nil, fmt.Errorf("helm set %q: %w", s, err)
		}
	}
	manifests, err := renderValues(context.Background(), ch, name, namespace, vals)
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %w", dir, err)
	}
	keys := sortedKeys(manifests)
	sort.Slice(keys, func(i, j int) bool { return manifestIndex(keys[i]) < manifestIndex(keys[j]) })
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("---\n")
		b.WriteString(manifests[k])
		b.WriteString("\n")
	}
	return blob(b.String()), nil
}

// mergeValues merges src over dst as Helm merges -f files: maps deeply, anything else replaced.
func mergeValues(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func (f *tiltFake) k8sYAML(a map[string]starlark.Value) (starlark.Value, error) {
	var texts []string
	add := func(v starlark.Value) error {
		switch v := v.(type) {
		case blob:
			texts = append(texts, string(v))
		case starlark.String:
			b, err := os.ReadFile(filepath.Join(f.root, string(v)))
			if err != nil {
				return err
			}
			texts = append(texts, string(b))
		default:
			return fmt.Errorf("k8s_yaml: want a path or a blob, got %s", v.Type())
		}
		return nil
	}
	if l, ok := a["yaml"].(*starlark.List); ok {
		for i := range l.Len() {
			if err := add(l.Index(i)); err != nil {
				return nil, err
			}
		}
	} else if err := add(a["yaml"]); err != nil {
		return nil, err
	}
	for _, text := range texts {
		docs, err := decodeYAMLDocs([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("k8s_yaml: %w", err)
		}
		for _, d := range docs {
			m, ok := d.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("k8s_yaml: a document is not an object: %v", d)
			}
			meta, _ := m["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			ns, _ := meta["namespace"].(string)
			kind, _ := m["kind"].(string)
			if name == "" || kind == "" {
				return nil, fmt.Errorf("k8s_yaml: an object without kind or name: %v", d)
			}
			f.run.objects = append(f.run.objects, k8sObject{Name: name, Kind: kind, Namespace: ns, Obj: m})
		}
	}
	return starlark.None, nil
}

func (f *tiltFake) k8sResource(a map[string]starlark.Value) (starlark.Value, error) {
	var c k8sResourceCall
	c.Workload, _ = optString(a["workload"])
	c.NewName, _ = optString(a["new_name"])
	if err := readLists("k8s_resource", a, map[string]*[]string{"objects": &c.Objects, "resource_deps": &c.ResourceDeps, "port_forwards": &c.PortForwards}); err != nil {
		return nil, err
	}
	f.run.k8sResources = append(f.run.k8sResources, c)
	return starlark.None, nil
}

// readLists reads the list arguments named in dst (port_forwards as Tilt's port forwards,
// the others as lists of strings).
func readLists(fn string, a map[string]starlark.Value, dst map[string]*[]string) error {
	for key, d := range dst {
		read := stringList
		if key == "port_forwards" {
			read = portForwards
		}
		var err error
		if *d, err = read(a[key]); err != nil {
			return fmt.Errorf("%s %s: %w", fn, key, err)
		}
	}
	return nil
}

func (f *tiltFake) localResource(a map[string]starlark.Value) (starlark.Value, error) {
	name, _ := optString(a["name"])
	var deps []string
	if err := readLists("local_resource", a, map[string]*[]string{"resource_deps": &deps}); err != nil {
		return nil, err
	}
	f.run.localNames = append(f.run.localNames, name)
	f.run.localDeps[name] = deps
	return starlark.None, nil
}

func (f *tiltFake) helmRepo(a map[string]starlark.Value) (starlark.Value, error) {
	var c helmRepoCall
	c.Name, _ = optString(a["name"])
	c.URL, _ = optString(a["url"])
	c.ResourceName, _ = optString(a["resource_name"])
	if c.ResourceName == "" {
		c.ResourceName = c.Name
	}
	f.run.helmRepos = append(f.run.helmRepos, c)
	return starlark.None, nil
}

func (f *tiltFake) helmResource(a map[string]starlark.Value) (starlark.Value, error) {
	var c helmResourceCall
	c.Name, _ = optString(a["name"])
	c.Chart, _ = optString(a["chart"])
	c.Namespace, _ = optString(a["namespace"])
	if err := readLists("helm_resource", a, map[string]*[]string{"flags": &c.Flags, "deps": &c.Deps, "resource_deps": &c.ResourceDeps, "port_forwards": &c.PortForwards}); err != nil {
		return nil, err
	}
	f.run.helmResources = append(f.run.helmResources, c)
	return starlark.None, nil
}

// dockerBuildWithRestart takes restart_process' parameters and passes the rest on to
// docker_build, whose parameters it accepts too.
func (f *tiltFake) dockerBuildWithRestart() *starlark.Builtin {
	params := []string{"ref", "context", "entrypoint", "live_update", "base_suffix?", "restart_file?", "trigger?", "exit_policy?",
		// docker_build's
		"dockerfile?", "dockerfile_contents?", "build_args?", "target?", "ssh?", "network?", "secret?", "extra_tag?",
		"container_args?", "cache_from?", "pull?", "platform?", "only?", "ignore?", "match_in_env_vars?"}
	return f.builtin("docker_build_with_restart", func(a map[string]starlark.Value) (starlark.Value, error) {
		ref, _ := optString(a["ref"])
		f.run.images = append(f.run.images, ref)
		return starlark.None, nil
	}, params...)
}

func optString(v starlark.Value) (string, bool) {
	if v == nil {
		return "", false
	}
	return starlark.AsString(v)
}

// stringList reads a list of strings, a single string, or nothing.
func stringList(v starlark.Value) ([]string, error) {
	return listOf(v, func(x starlark.Value) (string, error) {
		s, ok := starlark.AsString(x)
		if !ok {
			return "", fmt.Errorf("want strings, got %s", x.Type())
		}
		return s, nil
	})
}

// portForwards reads Tilt's port_forwards: an int, "local[:container]", or a list of those.
func portForwards(v starlark.Value) ([]string, error) {
	return listOf(v, func(x starlark.Value) (string, error) {
		switch x := x.(type) {
		case starlark.Int:
			return x.String(), nil
		case starlark.String:
			return string(x), nil
		}
		return "", fmt.Errorf("a port forward is an int or a string, not %s", x.Type())
	})
}

// listOf reads nothing, a single string or int, or a list of elements, each with one.
func listOf[T any](v starlark.Value, one func(starlark.Value) (T, error)) ([]T, error) {
	switch v.(type) {
	case nil, starlark.NoneType:
		return nil, nil
	case starlark.String, starlark.Int:
		x, err := one(v)
		if err != nil {
			return nil, err
		}
		return []T{x}, nil
	}
	iterable, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("want a list, got %s", v.Type())
	}
	it := iterable.Iterate()
	defer it.Done()
	var out []T
	var x starlark.Value
	for it.Next(&x) {
		e, err := one(x)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func toStarlark(v any) (starlark.Value, error) {
	switch v := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(v), nil
	case int:
		return starlark.MakeInt(v), nil
	case int64:
		return starlark.MakeInt64(v), nil
	case uint64:
		return starlark.MakeUint64(v), nil
	case float64:
		return starlark.Float(v), nil
	case string:
		return starlark.String(v), nil
	case []any:
		elems := make([]starlark.Value, 0, len(v))
		for _, e := range v {
			sv, err := toStarlark(e)
			if err != nil {
				return nil, err
			}
			elems = append(elems, sv)
		}
		return starlark.NewList(elems), nil
	case map[string]any:
		d := starlark.NewDict(len(v))
		for _, k := range sortedKeys(v) {
			sv, err := toStarlark(v[k])
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(starlark.String(k), sv); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("no Starlark value for %T", v)
}

func fromStarlark(v starlark.Value) (any, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		i, ok := v.Int64()
		if !ok {
			return nil, fmt.Errorf("integer %s out of range", v)
		}
		return i, nil
	case starlark.Float:
		return float64(v), nil
	case starlark.String:
		return string(v), nil
	case blob:
		return string(v), nil
	case *starlark.List, starlark.Tuple:
		out, err := listOf(v, fromStarlark)
		if out == nil && err == nil {
			out = []any{} // an empty list stays a list
		}
		return out, err
	case *starlark.Dict:
		out := map[string]any{}
		for _, item := range v.Items() {
			k, ok := starlark.AsString(item[0])
			if !ok {
				return nil, fmt.Errorf("a dict key is not a string: %s", item[0])
			}
			g, err := fromStarlark(item[1])
			if err != nil {
				return nil, err
			}
			out[k] = g
		}
		return out, nil
	}
	return nil, fmt.Errorf("no Go value for a Starlark %s", v.Type())
}
