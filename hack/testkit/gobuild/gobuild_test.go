package gobuild

import (
	"bytes"
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
