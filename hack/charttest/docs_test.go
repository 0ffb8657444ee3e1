package charttest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/hack/charttest/valuesdoc"
)

func readChartFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func chartParams(t *testing.T) []valuesdoc.Param {
	t.Helper()
	params, err := valuesdoc.Parse(readChartFile(t, "values.yaml"))
	if err != nil {
		t.Fatalf("values.yaml:\n%v", err)
	}
	return params
}

// TestValuesDocUpToDate: the README's values table is what `make chart-docs` writes from
// values.yaml, and every value in values.yaml has a "# --" description (Parse fails otherwise).
func TestValuesDocUpToDate(t *testing.T) {
	t.Parallel()
	readme := readChartFile(t, "README.md")
	want, err := valuesdoc.Render(readChartFile(t, "values.yaml"), readme)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(readme)); diff != "" {
		t.Errorf("charts/gatewarden/README.md is out of date with values.yaml; run `make chart-docs` (-want +got):\n%s", diff)
	}
}

// TestValuesDocMatchesHelm holds the documented values to values.yaml as Helm reads it (its own
// YAML decoder, not the one valuesdoc uses): every documented key exists with the documented
// default and type, and every value Helm reads is documented, on its own or within a map
// documented as a whole.
func TestValuesDocMatchesHelm(t *testing.T) {
	t.Parallel()
	params := chartParams(t)
	vals := readValues(t, filepath.Join(chartDir, "values.yaml"))
	documented := map[string]bool{}
	for _, p := range params {
		documented[p.Key] = true
		v, ok := lookupPath(vals, p.Key)
		if !ok {
			t.Errorf("%s: documented, but Helm reads no such value", p.Key)
			continue
		}
		if got := helmType(v); got != p.Type {
			t.Errorf("%s: documented as %s, Helm reads a %s (%v)", p.Key, p.Type, got, v)
		}
		if diff := cmp.Diff(jsonOf(t, p.Value), jsonOf(t, v)); diff != "" {
			t.Errorf("%s: documented default differs from Helm's (-doc +helm):\n%s", p.Key, diff)
		}
	}
	for _, key := range undocumented(vals, "", documented) {
		t.Errorf("%s: Helm reads this value, the table does not document it", key)
	}
}

// TestValuesDocSchema: the documented types agree with values.schema.json, every documented key
// is in the schema, and every key the schema allows is documented (values.yaml gives it a
// default) or lies within a map documented as a whole.
func TestValuesDocSchema(t *testing.T) {
	t.Parallel()
	var schema map[string]any
	if err := json.Unmarshal(readChartFile(t, "values.schema.json"), &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	params := chartParams(t)
	documented := map[string]bool{}
	for _, p := range params {
		documented[p.Key] = true
		node, err := schemaAt(schema, p.Key)
		if err != nil {
			t.Errorf("%s: %v", p.Key, err)
			continue
		}
		types := schemaTypes(schema, node)
		if len(types) == 0 {
			continue // the schema leaves the type open
		}
		if !slices.ContainsFunc(jsonSchemaTypes[p.Type], func(s string) bool { return slices.Contains(types, s) }) {
			t.Errorf("%s: documented as %s, values.schema.json allows %v", p.Key, p.Type, types)
		}
	}
	for _, key := range schemaKeysUndocumented(schema, schema, "", documented) {
		t.Errorf("%s: values.schema.json allows it, values.yaml documents no default for it", key)
	}
}

// jsonSchemaTypes are the JSON Schema types each documented type may be declared as.
var jsonSchemaTypes = map[string][]string{
	"string": {"string"},
	"int":    {"integer", "number"},
	"float":  {"number"},
	"bool":   {"boolean"},
	"list":   {"array"},
	"object": {"object"},
}

// TestValuesDocChecks breaks the documentation one way per case and expects the helpers above
// to notice, so that the chart tests cannot pass for want of looking.
func TestValuesDocChecks(t *testing.T) {
	t.Parallel()
	vals := map[string]any{"a": map[string]any{"b": "x", "c": map[string]any{"d": float64(1)}}, "e": []any{}}
	if got, want := undocumented(vals, "", map[string]bool{"a.b": true, "a.c": true}), []string{"e"}; !slices.Equal(got, want) {
		t.Errorf("undocumented = %v, want %v", got, want)
	}
	if got := undocumented(vals, "", map[string]bool{"a.b": true, "a.c.d": true, "e": true}); len(got) != 0 {
		t.Errorf("undocumented with every leaf documented = %v, want none", got)
	}
	if got := helmType(float64(1.5)); got != "float" {
		t.Errorf("helmType(1.5) = %s, want float", got)
	}

	schema := map[string]any{
		"definitions": map[string]any{"dur": map[string]any{"type": "string"}},
		"properties": map[string]any{
			"a": map[string]any{"type": "object", "properties": map[string]any{
				"b": map[string]any{"$ref": "#/definitions/dur"},
				"q": map[string]any{"anyOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}},
			}},
			"extra": map[string]any{"type": "boolean"},
		},
	}
	node, err := schemaAt(schema, "a.b")
	if err != nil {
		t.Fatal(err)
	}
	if got := schemaTypes(schema, node); !slices.Equal(got, []string{"string"}) {
		t.Errorf("schemaTypes(a.b) = %v, want [string] through $ref", got)
	}
	node, err = schemaAt(schema, "a.q")
	if err != nil {
		t.Fatal(err)
	}
	if got := schemaTypes(schema, node); !slices.Equal(got, []string{"number", "string"}) {
		t.Errorf("schemaTypes(a.q) = %v, want [number string] through anyOf", got)
	}
	if _, err := schemaAt(schema, "a.missing"); err == nil {
		t.Error("schemaAt(a.missing) found a node")
	}
	if got, want := schemaKeysUndocumented(schema, schema, "", map[string]bool{"a.b": true}), []string{"a.q", "extra"}; !slices.Equal(got, want) {
		t.Errorf("schemaKeysUndocumented = %v, want %v", got, want)
	}
}

func lookupPath(vals map[string]any, key string) (any, bool) {
	var cur any = vals
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// helmType names the type of a value as Helm decodes it (numbers are float64) in helm-docs'
// words.
func helmType(v any) string {
	switch v := v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		if v == math.Trunc(v) {
			return "int"
		}
		return "float"
	case int, int64:
		return "int"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// undocumented lists the leaves of vals (scalars, lists, empty maps) that are neither
// documented nor within a documented map.
func undocumented(vals map[string]any, prefix string, documented map[string]bool) []string {
	var out []string
	for _, k := range sortedKeys(vals) {
		key := joinKey(prefix, k)
		if documented[key] {
			continue
		}
		if m, ok := vals[k].(map[string]any); ok && len(m) > 0 {
			out = append(out, undocumented(m, key, documented)...)
			continue
		}
		out = append(out, key)
	}
	return out
}

// joinKey is the dotted path of key k under prefix ("" = the top).
func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// resolve follows a local $ref ("#/definitions/name").
func resolve(root, node map[string]any) map[string]any {
	for range 10 {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		target, _ := lookupPath(root, strings.ReplaceAll(strings.TrimPrefix(ref, "#/"), "/", "."))
		m, ok := target.(map[string]any)
		if !ok {
			return node
		}
		node = m
	}
	return node
}

// schemaAt returns the schema of the value at key, following properties and $refs.
func schemaAt(root map[string]any, key string) (map[string]any, error) {
	node := root
	for _, part := range strings.Split(key, ".") {
		props, _ := resolve(root, node)["properties"].(map[string]any)
		next, ok := props[part].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("values.schema.json has no property %q here", part)
		}
		node = next
	}
	return resolve(root, node), nil
}

// schemaTypes collects the types a schema node declares, itself or through anyOf/oneOf.
func schemaTypes(root, node map[string]any) []string {
	node = resolve(root, node)
	var out []string
	switch t := node["type"].(type) {
	case string:
		out = append(out, t)
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		branches, _ := node[kw].([]any)
		for _, b := range branches {
			if m, ok := b.(map[string]any); ok {
				out = append(out, schemaTypes(root, m)...)
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// schemaKeysUndocumented lists the schema's property paths that are neither documented, nor
// within a documented value, nor a section with documented keys under it.
func schemaKeysUndocumented(root, node map[string]any, prefix string, documented map[string]bool) []string {
	props, _ := resolve(root, node)["properties"].(map[string]any)
	var out []string
	for _, k := range sortedKeys(props) {
		key := joinKey(prefix, k)
		if documented[key] {
			continue
		}
		if !hasDocumentedUnder(documented, key) {
			out = append(out, key)
			continue
		}
		child, _ := props[k].(map[string]any)
		out = append(out, schemaKeysUndocumented(root, child, key, documented)...)
	}
	return out
}

func hasDocumentedUnder(documented map[string]bool, key string) bool {
	for d := range documented {
		if strings.HasPrefix(d, key+".") {
			return true
		}
	}
	return false
}
