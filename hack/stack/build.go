package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

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
	pkgs := make([]string, 0, len(packages))
	for _, p := range packages {
		pkgs = append(pkgs, p.pkg)
	}
	if err := gobuild.Build(ctx, gobuild.Options{Dir: repoRoot, Out: dir}, pkgs...); err != nil {
		return Binaries{}, fmt.Errorf("stack: build: %w", err)
	}
	return BinariesIn(dir), nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
