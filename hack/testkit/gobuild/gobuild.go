// Package gobuild builds the repository's programs with one `go build` call: the one way the
// harnesses (hack/stack, hack/bench, hack/cluster, hack/idps) and tests compile the binaries
// they run. Static builds are what the container images hold; the others link as `go build`
// does by default.
package gobuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// MainModule is the module path of the repository's main module.
const MainModule = "github.com/gatewarden/gatewarden"

// Options say where and how to build.
type Options struct {
	// Dir is the directory go build runs in: a module's directory, which relative package
	// paths start from.
	Dir string
	// Out is the directory the binaries are written to, each named after its package; it is
	// made when missing.
	Out string
	// Static builds without cgo (CGO_ENABLED=0) and with -trimpath, as the images are built.
	Static bool
}

// Build compiles the main packages pkgs into o.Out in one go build (the build cache makes
// repeats fast). The error carries go build's output.
func Build(ctx context.Context, o Options, pkgs ...string) error {
	if len(pkgs) == 0 {
		return errors.New("gobuild: no packages")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("gobuild: %w", err)
	}
	args := []string{"build"}
	if o.Static {
		args = append(args, "-trimpath")
	}
	args = append(args, "-o", o.Out+string(filepath.Separator))
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, GoTool(), args...)
	cmd.Dir = o.Dir
	if o.Static {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gobuild: go %s (in %s): %w\n%s", strings.Join(args, " "), o.Dir, err, out.String())
	}
	return nil
}

// GoTool is the go command: $GOROOT/bin/go of the running toolchain when it exists, else go
// from PATH.
func GoTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return "go"
}

// RepoRoot walks up from dir to the directory whose go.mod declares MainModule (from a nested
// module under hack/ too).
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("gobuild: find the repository root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(b) == MainModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("gobuild: find the repository root: no go.mod of " + MainModule + " above the working directory")
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

// Cached returns the path of binary in the cache folder of set, a set of
// hack/kubebin/build.sh under the repository at root: the script builds
// it from the Go module proxy when the cache lacks it (minutes when cold,
// run under nice -n 10) and prints the folder. The script's progress goes
// to stderr; its failure is returned with the set named.
func Cached(ctx context.Context, root, set, binary string, stderr io.Writer) (string, error) {
	cmd := exec.CommandContext(ctx, "nice", "-n", "10", filepath.Join(root, "hack", "kubebin", "build.sh"), set)
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/kubebin/build.sh %s: %w", set, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" || strings.ContainsAny(dir, "\n ") {
		return "", fmt.Errorf("hack/kubebin/build.sh %s: want one folder, got %q", set, out)
	}
	return filepath.Join(dir, binary), nil
}
