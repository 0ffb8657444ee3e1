package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

// buildAuthproxy compiles ./authproxy of the main module, found from the working directory
// (go run ./hack/bench runs anywhere inside the repository), into dir.
func buildAuthproxy(ctx context.Context, dir string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := gobuild.RepoRoot(wd)
	if err != nil {
		return "", fmt.Errorf("%w: run from the repository (or pass -authproxy)", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := gobuild.Build(ctx, gobuild.Options{Dir: root, Out: dir}, "./authproxy"); err != nil {
		return "", err
	}
	return filepath.Join(dir, "authproxy"), nil
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
	// The child writes into a pipe of 1 MiB (Linux's default bound for
	// F_SETPIPE_SZ) that this process drains into head. With the default
	// 64 KiB, authproxy's info line per decision (about 320 bytes) filled
	// it in under 10 ms at 20,000 decisions/s whenever this process was
	// off the CPU, and a child blocked on its log write shows as latency.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	const fSetPipeSize = 1031 // F_SETPIPE_SZ (F_LINUX_SPECIFIC_BASE + 7); not in package syscall
	if rc, err := w.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, 1<<20) }) // best effort
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	_ = w.Close() // the child has its copy
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_, _ = io.Copy(head, r)
		_ = r.Close()
	}()
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

// procCPU reads utime+stime of pid from /proc/<pid>/stat. Clock ticks are
// taken as 100 per second (USER_HZ on Linux).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// After ")": state(3) ... utime(14) stime(15) -> indexes 11 and 12.
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0
	}
	return time.Duration(ut+st) * (time.Second / 100)
}

// rss is the process's resident memory.
func (c *child) rss() int64 { return rssBytes(c.cmd.Process.Pid) }
