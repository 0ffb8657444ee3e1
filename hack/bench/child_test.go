package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// A child's output goes through a 1 MiB pipe, so a child logging a line
// per request does not block on this process's reader, and its first
// bytes are kept for error messages.
func TestChildOutputPipe(t *testing.T) {
	t.Parallel()
	c, err := startChild(t.Context(), "/bin/sh", nil, "-c", "echo started; sleep 5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stop)
	f, err := os.OpenFile("/proc/"+strconv.Itoa(c.cmd.Process.Pid)+"/fd/1", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	const fGetPipeSize = 1032 // F_GETPIPE_SZ
	size, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fGetPipeSize, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if size != 1<<20 {
		t.Fatalf("pipe size %d, want %d", size, 1<<20)
	}
	if err := testkit.Poll(t.Context(), "child output", 5*time.Second, 10*time.Millisecond, func(context.Context) error {
		if !strings.Contains(c.output(), "started") {
			return fmt.Errorf("output %q", c.output())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
