package valuesdoc

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		values   string
		want     []Param
		problems []string // substrings, one per expected problem
	}{
		{
			name: "scalars, continuation lines, sections",
			values: `# Header of the file, not a description.

# -- Replaces the name.
nameOverride: ""
image:
  # -- Repository of the
  # image.
  repository: ghcr.io/x
  # -- Replicas.
  replicas: 2
  # -- Debug.
  debug: false
  # -- Ratio.
  ratio: 0.5
`,
			want: []Param{
				{Key: "nameOverride", Type: "string", Value: "", Default: `""`, Description: "Replaces the name."},
				{Key: "image.repository", Type: "string", Value: "ghcr.io/x", Default: `"ghcr.io/x"`, Description: "Repository of the image."},
				{Key: "image.replicas", Type: "int", Value: 2, Default: `2`, Description: "Replicas."},
				{Key: "image.debug", Type: "bool", Value: false, Default: `false`, Description: "Debug."},
				{Key: "image.ratio", Type: "float", Value: 0.5, Default: `0.5`, Description: "Ratio."},
			},
		},
		{
			name: "a map documented as a whole, lists, empty maps, @default",
			values: `# -- Resources.
resources:
  requests:
    cpu: 50m
# -- Rules.
# @default -- two rules
rules:
  # A comment inside the list is not a description.
  - name: a
  - name: b
# -- Labels.
labels: {}
# -- Ports.
ports: [80, 443]
`,
			want: []Param{
				{Key: "resources", Type: "object", Value: map[string]any{"requests": map[string]any{"cpu": "50m"}}, Default: `{"requests":{"cpu":"50m"}}`, Description: "Resources."},
				{Key: "rules", Type: "list", Value: []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}, Default: "two rules", Override: true, Description: "Rules."},
				{Key: "labels", Type: "object", Value: map[string]any{}, Default: `{}`, Description: "Labels."},
				{Key: "ports", Type: "list", Value: []any{80, 443}, Default: `[80,443]`, Description: "Ports."},
			},
		},
		{
			name: "a comment line above the description is not part of it",
			values: `# Section note.
# -- The value.
value: x
`,
			want: []Param{{Key: "value", Type: "string", Value: "x", Default: `"x"`, Description: "The value."}},
		},
		{
			name: "every problem at once",
			values: `# A plain comment is not a description.
plain: 1
noComment: ""
# -- Documented as a whole.
whole:
  # -- Its own text would be lost.
  inner: 1
# -- A scalar's default is shown as it is.
# @default -- something else
scalar: 3
# -- Null says nothing of the type.
nothing:

# -- A blank line separates this from its key.

separated: 1
section:
  missing: true
`,
			problems: []string{
				`plain (line 2): no "# --" description`,
				`noComment (line 3): no "# --" description`,
				`whole.inner (line 7): has a description, but whole above it is documented as a whole`,
				`scalar (line 10): "# @default --" on a int`,
				`nothing (line 12): a !!null default`,
				`separated (line 16): no "# --" description`,
				`section.missing (line 18): no "# --" description`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.values))
			var problems []string
			if err != nil {
				problems = strings.Split(err.Error(), "\n")
			}
			if len(problems) != len(tt.problems) {
				t.Fatalf("problems:\n%s\nwant %d: %q", strings.Join(problems, "\n"), len(tt.problems), tt.problems)
			}
			for i, want := range tt.problems {
				if !strings.Contains(problems[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, problems[i], want)
				}
			}
			if tt.problems != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTable(t *testing.T) {
	t.Parallel()
	got := Table([]Param{
		{Key: "a", Type: "string", Default: `"x|y"`, Description: "Pipes | escaped, <release> escaped, `<kept>` in code."},
		{Key: "b", Type: "list", Default: "see values.yaml", Override: true, Description: "Long."},
	})
	want := "| key | type | default | description |\n" +
		"| --- | --- | --- | --- |\n" +
		"| `a` | string | `\"x\\|y\"` | Pipes \\| escaped, &lt;release> escaped, `<kept>` in code. |\n" +
		"| `b` | list | see values.yaml | Long. |\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Table (-want +got):\n%s", diff)
	}
}

func TestSplice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		readme  string
		want    string
		wantErr string
	}{
		{
			name:   "replaces what is between the markers",
			readme: "# Chart\n" + BeginMarker + "\nold table\n" + EndMarker + "\nafter\n",
			want:   "# Chart\n" + BeginMarker + "\nnew table\n" + EndMarker + "\nafter\n",
		},
		{name: "no markers", readme: "# Chart\n", wantErr: "lacks the markers"},
		{name: "markers twice", readme: BeginMarker + EndMarker + BeginMarker + EndMarker, wantErr: "more than once"},
		{name: "end before begin", readme: EndMarker + "\n" + BeginMarker, wantErr: "comes before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Splice([]byte(tt.readme), "new table\n")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Splice error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Splice (-want +got):\n%s", diff)
			}
		})
	}
}
