package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// mainModule is the repository's module path; authproxy is built from it.
const mainModule = "github.com/gatewarden/gatewarden"

// buildAuthproxy compiles ./authproxy of the main module into dir.
func buildAuthproxy(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "authproxy")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./authproxy")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./authproxy in %s: %w\n%s", root, err, b)
	}
	return out, nil
}

// moduleRoot is the directory of the main module's go.mod, found from the
// working directory (go run ./hack/bench runs anywhere inside the repo).
func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the gatewarden module: run from the repository (or pass -authproxy)")
	}
	mod, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	if !bytes.HasPrefix(mod, []byte("module "+mainModule+"\n")) {
		return "", fmt.Errorf("%s is not the %s module: run from the repository root (or pass -authproxy)", gomod, mainModule)
	}
	return filepath.Dir(gomod), nil
}

// child is a server process. It gets SIGKILL if this program dies, so
// nothing outlives a run.
type child struct {
	url  string
	cmd  *exec.Cmd
	head *headBuffer
}

func startChild(ctx context.Context, bin string, env []string, args ...string) (*child, error) {
	cmd := exec.Command(bin, args...)
	// A clean environment: no AUTHPROXY_* from the caller's shell.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}, env...)
	head := &headBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = head, head
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return &child{cmd: cmd, head: head}, ctx.Err()
}

// cpuTime is the process's user+system CPU time so far.
func (c *child) cpuTime() time.Duration { return procCPU(c.cmd.Process.Pid) }

// output is the start of what the process printed (startup errors).
func (c *child) output() string { return c.head.String() }

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// headBuffer keeps the first max bytes written and drops the rest (the
// per-decision log lines of a long run).
type headBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.max - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf.String()
}
