package gobuild

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// module writes a module "example.test/m" with the given files into a temporary directory.
func module(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module example.test/m\n\ngo 1.22\n"
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A program that says whether it was built with cgo.
var cgoProgram = map[string]string{
	"cmd/hello/main.go":  "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(mode) }\n",
	"cmd/hello/cgo.go":   "//go:build cgo\n\npackage main\n\nconst mode = \"cgo\"\n",
	"cmd/hello/nocgo.go": "//go:build !cgo\n\npackage main\n\nconst mode = \"nocgo\"\n",
	"cmd/other/main.go":  "package main\n\nfunc main() {}\n",
}

func TestBuildStatic(t *testing.T) {
	t.Parallel()
	dir := module(t, cgoProgram)
	out := filepath.Join(t.TempDir(), "bin")
	if err := Build(t.Context(), Options{Dir: dir, Out: out, Static: true}, "./cmd/hello", "./cmd/other"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "other")); err != nil {
		t.Errorf("second package not built: %v", err)
	}
	bin := filepath.Join(out, "hello")
	got, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "nocgo" {
		t.Errorf("static build says %q, want nocgo", got)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(dir)) {
		t.Errorf("static build holds the module's path %s (no -trimpath)", dir)
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	t.Parallel()
	dir := module(t, map[string]string{"main.go": "package main\n\nfunc main() { undefinedThing() }\n"})
	err := Build(t.Context(), Options{Dir: dir, Out: t.TempDir()}, ".")
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") {
		t.Fatalf("Build = %v, want go build's complaint about undefinedThing", err)
	}
}

func TestRepoRoot(t *testing.T) {
	t.Parallel()
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "authproxy", "rules.example.yaml")); err != nil {
		t.Errorf("root %s has no authproxy/rules.example.yaml: %v", root, err)
	}
	if _, err := RepoRoot(t.TempDir()); err == nil {
		t.Error("found a repository root above a temporary directory")
	}
}

// TestCached runs a stand-in build.sh: the folder it prints names the
// binary, a failure names the set, and output that is not one folder is
// refused.
func TestCached(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, script, want, wantErr string
	}{
		{name: "folder", script: "echo /cache/promset-1", want: "/cache/promset-1/prometheus"},
		{name: "failure", script: "echo boom >&2; exit 3", wantErr: "hack/kubebin/build.sh prom: exit status 3"},
		{name: "two lines", script: "echo a; echo b", wantErr: "want one folder"},
		{name: "nothing", script: "true", wantErr: "want one folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			dir := filepath.Join(root, "hack", "kubebin")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			script := "#!/bin/sh\n[ \"$1\" = prom ] || { echo \"set $1\" >&2; exit 9; }\n" + tt.script + "\n"
			if err := os.WriteFile(filepath.Join(dir, "build.sh"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			got, err := Cached(context.Background(), root, "prom", "prometheus", &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Cached = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
