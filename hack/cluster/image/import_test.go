package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestImport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ctr      string // body of a fake ctr that logs its arguments
		tars     []string
		wantArgs []string
		wantErr  string
	}{
		{
			name: "one ctr call per tarball",
			ctr:  `echo "$*" >> "$LOG"`,
			tars: []string{"/tmp/pause.tar", "/tmp/redis.tar"},
			wantArgs: []string{
				"--address /run/c.sock -n k8s.io images import /tmp/pause.tar",
				"--address /run/c.sock -n k8s.io images import /tmp/redis.tar",
			},
		},
		{
			name:     "stops at the first failure and reports ctr's output",
			ctr:      `echo "$*" >> "$LOG"; echo "ctr: image might be filtered out" >&2; exit 1`,
			tars:     []string{"/tmp/bad.tar", "/tmp/never.tar"},
			wantArgs: []string{"--address /run/c.sock -n k8s.io images import /tmp/bad.tar"},
			wantErr:  "import /tmp/bad.tar: exit status 1: ctr: image might be filtered out",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			log := filepath.Join(dir, "log")
			ctr := writeFile(t, dir, "ctr", "#!/bin/sh\nLOG="+log+"\n"+tt.ctr+"\n", 0o755)

			err := Import(context.Background(), ctr, "/run/c.sock", "k8s.io", tt.tars...)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Import: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Import error = %v, want one containing %q", err, tt.wantErr)
			}
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantArgs, strings.Split(strings.TrimSpace(string(b)), "\n")); diff != "" {
				t.Errorf("ctr calls (-want +got):\n%s", diff)
			}
		})
	}
}
