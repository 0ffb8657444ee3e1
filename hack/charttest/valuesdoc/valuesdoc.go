// Package valuesdoc reads a Helm chart's values.yaml documented in helm-docs' convention and
// writes the values table of the chart's README from it.
//
// The convention: the comment block right above a key holds its description, starting with a
// line "# -- " and continued by the following comment lines; a line "# @default -- text"
// after it replaces the default shown for a list or map (for a default too long to print). A
// key whose value is a non-empty map and which has no description is a section: each key under
// it is documented on its own. Every other key (a scalar, a list, an empty map, or a map
// documented as a whole) is a value, and must have a description.
package valuesdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Markers around the generated table in the README. Everything between them is replaced.
const (
	BeginMarker = "<!-- values table: generated from the `# --` comments in values.yaml by `make chart-docs`; do not edit by hand -->"
	EndMarker   = "<!-- end of values table -->"
)

// Param is one documented value.
type Param struct {
	Key         string // dotted path, e.g. "authproxy.image.tag"
	Type        string // helm-docs' names: string, int, float, bool, list, object
	Value       any    // the default as decoded from values.yaml
	Default     string // as shown: the default as JSON, or the text of an @default annotation
	Override    bool   // Default is an @default annotation, not the value
	Description string
}

const (
	descPrefix    = "# --"
	defaultPrefix = "# @default --"
)

// Parse returns the documented values of a values.yaml in file order. The error lists every
// problem at once: a value without a description, a description on both a map and keys under
// it, an @default on a scalar, a value whose type cannot be told.
func Parse(src []byte) ([]Param, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("valuesdoc: parse: %w", err)
	}
	if doc.Kind == 0 {
		return nil, nil // empty file
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("valuesdoc: values.yaml is not a map")
	}
	p := parser{lines: strings.Split(string(src), "\n")}
	p.mapping(doc.Content[0], "")
	return p.params, errors.Join(p.problems...)
}

type parser struct {
	lines    []string
	params   []Param
	problems []error
}

func (p *parser) problem(format string, args ...any) {
	p.problems = append(p.problems, fmt.Errorf(format, args...))
}

func (p *parser) mapping(m *yaml.Node, prefix string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		c, ok := p.comment(k.Line)
		section := v.Kind == yaml.MappingNode && len(v.Content) > 0
		switch {
		case !ok && section:
			p.mapping(v, key)
		case !ok:
			p.problem("%s (line %d): no %q description in the comment above it", key, k.Line, descPrefix)
		default:
			if section {
				p.noDescriptionsUnder(v, key)
			}
			p.value(key, k.Line, v, c)
		}
	}
}

// noDescriptionsUnder reports keys under a map documented as a whole that carry their own
// description: the table would show the map only, so their text would be lost.
func (p *parser) noDescriptionsUnder(m *yaml.Node, prefix string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := prefix + "." + k.Value
		if _, ok := p.comment(k.Line); ok {
			p.problem("%s (line %d): has a description, but %s above it is documented as a whole", key, k.Line, prefix)
		}
		if v.Kind == yaml.MappingNode {
			p.noDescriptionsUnder(v, key)
		}
	}
}

func (p *parser) value(key string, line int, v *yaml.Node, c comment) {
	typ, err := typeOf(v)
	if err != nil {
		p.problem("%s (line %d): %v", key, line, err)
		return
	}
	var val any
	if err := v.Decode(&val); err != nil {
		p.problem("%s (line %d): decode: %v", key, line, err)
		return
	}
	par := Param{Key: key, Type: typ, Value: val, Description: c.description}
	switch {
	case c.def != "" && typ != "list" && typ != "object":
		p.problem("%s (line %d): %q on a %s: a scalar's default is shown as it is", key, line, defaultPrefix, typ)
		return
	case c.def != "":
		par.Default, par.Override = c.def, true
	default:
		b, err := json.Marshal(val)
		if err != nil {
			p.problem("%s (line %d): default as JSON: %v", key, line, err)
			return
		}
		par.Default = string(b)
	}
	p.params = append(p.params, par)
}

func typeOf(v *yaml.Node) (string, error) {
	switch v.Kind {
	case yaml.SequenceNode:
		return "list", nil
	case yaml.MappingNode:
		return "object", nil
	case yaml.ScalarNode:
		switch v.ShortTag() {
		case "!!str":
			return "string", nil
		case "!!int":
			return "int", nil
		case "!!float":
			return "float", nil
		case "!!bool":
			return "bool", nil
		}
		return "", fmt.Errorf("a %s default says nothing of the value's type; give a typed default", v.ShortTag())
	}
	return "", fmt.Errorf("unsupported YAML node (kind %d: anchors and aliases are not documented)", v.Kind)
}

type comment struct {
	description string
	def         string
}

// comment reads the comment block right above line (1-based): the contiguous comment lines
// with no blank line between them and the key. ok is false when the block has no "# --" line.
func (p *parser) comment(line int) (comment, bool) {
	start := line - 1 // index of the key's line
	for start > 0 && strings.HasPrefix(strings.TrimSpace(p.lines[start-1]), "#") {
		start--
	}
	var desc, def []string
	found, inDefault := false, false
	for _, l := range p.lines[start : line-1] {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, descPrefix):
			found, inDefault = true, false
			desc = []string{strings.TrimSpace(strings.TrimPrefix(t, descPrefix))}
		case !found:
			// Comment lines above the description (a heading, a note) are not part of it.
		case strings.HasPrefix(t, defaultPrefix):
			inDefault = true
			def = append(def, strings.TrimSpace(strings.TrimPrefix(t, defaultPrefix)))
		case inDefault:
			def = append(def, strings.TrimSpace(strings.TrimPrefix(t, "#")))
		default:
			desc = append(desc, strings.TrimSpace(strings.TrimPrefix(t, "#")))
		}
	}
	if !found {
		return comment{}, false
	}
	return comment{description: joinWords(desc), def: joinWords(def)}, true
}

func joinWords(lines []string) string {
	return strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
}

// Table renders params as the README's markdown table.
func Table(params []Param) string {
	var b strings.Builder
	b.WriteString("| key | type | default | description |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	for _, p := range params {
		def := "`" + cell(p.Default) + "`"
		if p.Override {
			def = cell(prose(p.Default))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", cell(p.Key), p.Type, def, cell(prose(p.Description)))
	}
	return b.String()
}

// cell escapes the table's column separator.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// prose escapes "<" outside code spans, so that "<release>" is not taken for an HTML tag.
func prose(s string) string {
	var b strings.Builder
	code := false
	for _, r := range s {
		switch {
		case r == '`':
			code = !code
			b.WriteRune(r)
		case r == '<' && !code:
			b.WriteString("&lt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Splice returns readme with the text between BeginMarker and EndMarker replaced by table.
func Splice(readme []byte, table string) ([]byte, error) {
	begin := bytes.Index(readme, []byte(BeginMarker))
	end := bytes.Index(readme, []byte(EndMarker))
	switch {
	case begin < 0 || end < 0:
		return nil, fmt.Errorf("valuesdoc: the README lacks the markers %q and %q", BeginMarker, EndMarker)
	case bytes.Count(readme, []byte(BeginMarker)) != 1 || bytes.Count(readme, []byte(EndMarker)) != 1:
		return nil, errors.New("valuesdoc: the README has the table markers more than once")
	case end < begin:
		return nil, errors.New("valuesdoc: the README's end marker comes before its begin marker")
	}
	var out bytes.Buffer
	out.Write(readme[:begin+len(BeginMarker)])
	out.WriteString("\n")
	out.WriteString(table)
	out.Write(readme[end:])
	return out.Bytes(), nil
}

// Render returns readme with its values table generated from values.
func Render(values, readme []byte) ([]byte, error) {
	params, err := Parse(values)
	if err != nil {
		return nil, err
	}
	return Splice(readme, Table(params))
}
