package readme_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
