package testkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// roundTrip sends one inline command to addr and returns the first reply line.
func roundTrip(ctx context.Context, addr, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close() }()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	if _, err := c.Write([]byte(command + "\r\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestStartRedisServesAndStopsAtCleanup(t *testing.T) {
	t.Parallel()
	NeedRedis(t)
	var addr string
	var pid int
	t.Run("owner", func(t *testing.T) {
		rs := StartRedis(t)
		addr, pid = rs.Addr(), rs.PID()
		if pid == 0 {
			t.Fatal("PID() = 0 for a running server")
		}
		for _, step := range []struct{ command, want string }{
			{command: "SET k v", want: "+OK\r\n"},
			{command: "GET k", want: "$1\r\n"},
			{command: "CONFIG GET appendonly", want: "*2\r\n"},
		} {
			got, err := roundTrip(t.Context(), addr, step.command)
			if err != nil || got != step.want {
				t.Fatalf("%s: %q, %v; want %q", step.command, got, err, step.want)
			}
		}
	})
	if _, err := roundTrip(t.Context(), addr, "PING"); err == nil {
		t.Errorf("redis-server on %s still answers after its test ended", addr)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("redis-server process %d still exists after its test ended", pid)
	}
}

func TestRedisStopStartPauseResume(t *testing.T) {
	t.Parallel()
	rs := StartRedis(t)
	ctx := t.Context()
	answers := func(step string, want bool) {
		t.Helper()
		_, err := roundTrip(ctx, rs.Addr(), "PING")
		if got := err == nil; got != want {
			t.Fatalf("%s: answers = %v (%v), want %v", step, got, err, want)
		}
	}
	rs.Stop()
	answers("stopped", false)
	if rs.PID() != 0 {
		t.Errorf("PID() = %d for a stopped server", rs.PID())
	}
	rs.Start()
	answers("started again on the same port", true)
	rs.Pause()
	answers("paused", false)
	rs.Resume()
	answers("resumed", true)
	rs.Pause()
	rs.Stop() // a paused server stops too
	answers("stopped while paused", false)
}

func TestRedisStartFailsWithTheServersOutput(t *testing.T) {
	t.Parallel()
	bin := NeedRedis(t)
	r, err := NewRedis(RedisOptions{Bin: bin, Dir: t.TempDir(), Extra: []string{"--no-such-directive", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	err = r.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "exited at start") || !strings.Contains(err.Error(), "no-such-directive") {
		t.Fatalf("Start = %v, want an exit at start quoting the server's complaint", err)
	}
	if r.PID() != 0 {
		t.Errorf("PID() = %d after a failed start", r.PID())
	}
}

func TestNewRedisWithoutBinary(t *testing.T) {
	t.Parallel()
	_, err := NewRedis(RedisOptions{Bin: "testkit-no-such-redis-server"})
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "apt-get install redis-server") {
		t.Fatalf("NewRedis = %v, want exec.ErrNotFound with an install hint", err)
	}
}

func TestRedisCloseRemovesItsOwnDir(t *testing.T) {
	t.Parallel()
	bin := NeedRedis(t)
	r, err := NewRedis(RedisOptions{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left %s behind: %v", r.Dir(), err)
	}
}

// TestNeedRedisWithoutRedis: absent redis-server skips the test, or fails it when CI is set.
// It changes PATH, so it does not run in parallel.
func TestNeedRedisWithoutRedis(t *testing.T) {
	tests := []struct {
		name, ci            string
		wantSkip, wantFatal string
	}{
		{name: "developer machine", ci: "", wantSkip: "redis-server not on PATH; install it"},
		{name: "CI", ci: "true", wantFatal: "redis-server not on PATH (required when CI is set)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv("CI", tt.ci)
			r := run(t, func(tb testing.TB) { StartRedis(tb) })
			if !strings.Contains(r.skipped, tt.wantSkip) || !strings.Contains(r.fatal, tt.wantFatal) ||
				(tt.wantSkip == "") != (r.skipped == "") || (tt.wantFatal == "") != (r.fatal == "") {
				t.Fatalf("skipped %q, fatal %q; want skip %q, fatal %q", r.skipped, r.fatal, tt.wantSkip, tt.wantFatal)
			}
		})
	}
}

// TestFreePort: the port FreePort gives can be listened on. Between its
// answer and the Listen here any process on the machine may take the port
// (an outgoing connection's ephemeral port comes from the same range: a CI
// run once hit it), so each of three tries uses a fresh port; a FreePort
// that returned ports still held would fail all three.
func TestFreePort(t *testing.T) {
	t.Parallel()
	var errs []error
	for range 3 {
		port := FreePort(t)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			_ = ln.Close()
			return
		}
		errs = append(errs, fmt.Errorf("port %d: %w", port, err))
	}
	t.Fatalf("no port from FreePort could be listened on: %v", errors.Join(errs...))
}
