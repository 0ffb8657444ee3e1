package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

// BuildTemp is a test binary's TestMain build: it finds the main module above the working
// directory, builds the binaries into a new temporary folder, says on log how long that took,
// and returns them, the module's root and a function that removes the folder.
func BuildTemp(ctx context.Context, log io.Writer, name string) (_ Binaries, repoRoot string, remove func(), _ error) {
	dir, err := os.MkdirTemp("", "gatewarden-"+name+"-bin-")
	if err != nil {
		return Binaries{}, "", nil, fmt.Errorf("stack: build: %w", err)
	}
	remove = func() { _ = os.RemoveAll(dir) }
	fail := func(err error) (Binaries, string, func(), error) {
		remove()
		return Binaries{}, "", nil, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return fail(fmt.Errorf("stack: build: %w", err))
	}
	if repoRoot, err = gobuild.RepoRoot(wd); err != nil {
		return fail(err)
	}
	start := time.Now()
	b, err := Build(ctx, repoRoot, filepath.Join(dir, "bin"))
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(log, "%s: built authproxy, catalog, inventory, devidp in %v\n", name, time.Since(start).Round(time.Millisecond))
	return b, repoRoot, remove, nil
}
