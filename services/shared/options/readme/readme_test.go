package readme_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gatewarden/gatewarden/services/shared/options"
	"github.com/gatewarden/gatewarden/services/shared/options/readme"
)

func TestSync(t *testing.T) {
	t.Parallel()
	const table = "| a | b |\n| --- | --- |\n| x | y |\n"
	tests := []struct {
		name    string
		doc     string
		write   bool
		wantErr string
		wantDoc string // after Sync; "" = unchanged
	}{
		{name: "in step", doc: "# T\n<!-- options:t -->\n\n" + table + "\n<!-- /options -->\nafter\n"},
		{name: "drift", doc: "<!-- options:t -->\n| a | b |\n| --- | --- |\n| x | old |\n<!-- /options -->\n", wantErr: "\"| x | old |\""},
		{name: "no marker", doc: "# T\n", wantErr: `has no "<!-- options:t -->" marker`},
		{name: "other name only", doc: "<!-- options:u -->\n\n" + table + "\n<!-- /options -->\n", wantErr: "has no"},
		{name: "no end", doc: "<!-- options:t -->\n" + table, wantErr: `no "<!-- /options -->"`},
		{
			name: "write", write: true,
			doc:     "# T\n<!-- options:u -->\nkeep\n<!-- /options -->\n<!-- options:t -->\nstale\n<!-- /options -->\nafter\n",
			wantDoc: "# T\n<!-- options:u -->\nkeep\n<!-- /options -->\n<!-- options:t -->\n\n" + table + "\n<!-- /options -->\nafter\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "README.md")
			if err := os.WriteFile(path, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			err := readme.Sync(path, "t", table, tt.write)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Sync = %v, want %q", err, tt.wantErr)
			}
			got, _ := os.ReadFile(path)
			want := tt.wantDoc
			if want == "" {
				want = tt.doc
			}
			if string(got) != want {
				t.Errorf("file after Sync:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// fakeT records what TestVariables reports; Fatal ends its goroutine as
// testing.T's does.
type fakeT struct {
	testing.TB
	msgs []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) { f.Errorf(format, args...); runtime.Goexit() }
func (f *fakeT) Fatal(args ...any)                 { f.msgs = append(f.msgs, fmt.Sprint(args...)); runtime.Goexit() }

func TestVariables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"known.yaml":   "- name: T_LISTEN\n- name: T_CONFIG\n",
		"unknown.yaml": "- name: T_LISTEN\n- name: T_LISTEN_ADDR\n",
		"none.yaml":    "nothing here\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var listen string
	set := options.Set{Program: "t", EnvPrefix: "T_", ConfigFile: true, Options: []options.Option{{Name: "listen", Value: options.String(&listen)}}}
	tests := []struct {
		name  string
		globs []string
		want  []string
	}{
		{name: "known", globs: []string{filepath.Join(dir, "known.yaml")}},
		{name: "unknown", globs: []string{filepath.Join(dir, "*.yaml")}, want: []string{filepath.Join(dir, "unknown.yaml") + " names T_LISTEN_ADDR, which t does not read"}},
		{name: "nothing matches", globs: []string{filepath.Join(dir, "none.yaml")}, want: []string{"readme: no T_[A-Z_]+ in"}},
		{name: "no file", globs: []string{filepath.Join(dir, "gone.yaml")}, want: []string{"gone.yaml names no file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeT{}
			done := make(chan struct{})
			go func() {
				defer close(done)
				readme.TestVariables(f, set, `T_[A-Z_]+`, tt.globs...)
			}()
			<-done
			if len(f.msgs) != len(tt.want) {
				t.Fatalf("reported %q, want %q", f.msgs, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(f.msgs[i], w) {
					t.Errorf("report %q lacks %q", f.msgs[i], w)
				}
			}
		})
	}
}
