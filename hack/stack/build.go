package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// MainModule is the module path of the repository's main module.
const MainModule = "github.com/gatewarden/gatewarden"

// Binaries are the paths of the programs the stack runs.
type Binaries struct {
	AuthProxy string
	Catalog   string
	Inventory string
	DevIDP    string
}

// packages maps each binary to its main package in the main module.
var packages = []struct {
	name, pkg string
}{
	{"authproxy", "./authproxy"},
	{"catalog", "./services/catalog"},
	{"inventory", "./services/inventory"},
	{"devidp", "./hack/devidp/cmd/devidp"},
}

// BinariesIn names the binaries Build writes into dir.
func BinariesIn(dir string) Binaries {
	return Binaries{
		AuthProxy: filepath.Join(dir, "authproxy"),
		Catalog:   filepath.Join(dir, "catalog"),
		Inventory: filepath.Join(dir, "inventory"),
		DevIDP:    filepath.Join(dir, "devidp"),
	}
}

// Build compiles authproxy, catalog, inventory and the dev IdP from the main module at repoRoot
// into dir (one `go build` call; the Go build cache makes repeats fast).
func Build(ctx context.Context, repoRoot, dir string) (Binaries, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("stack: build: %w", err)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, p := range packages {
		args = append(args, p.pkg)
	}
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = repoRoot
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return Binaries{}, fmt.Errorf("stack: build (go %s in %s): %w\n%s", strings.Join(args, " "), repoRoot, err, out.String())
	}
	return BinariesIn(dir), nil
}

// goTool is the go command: $GOROOT/bin/go of the running toolchain when it exists, else PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

// FindRepoRoot walks up from dir to the directory whose go.mod declares MainModule.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("stack: find repository root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(b) == MainModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("stack: find repository root: no go.mod of " + MainModule + " above the working directory")
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for line := range strings.SplitSeq(string(gomod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
