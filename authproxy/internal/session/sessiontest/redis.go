package sessiontest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a real redis-server process owned by one test.
type RedisServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string // command line after the binary
	cmd  *exec.Cmd
	exit chan struct{}
}

// StartRedis starts redis-server on a free 127.0.0.1 port with a temp dir
// and no persistence; it is stopped when the test ends. Without
// redis-server on PATH the test is skipped, unless env CI is set (then it
// fails).
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	return startServer(t, nil)
}

// startServer starts a plain redis-server with extra arguments (e.g. the
// cluster flags) after the usual port, bind, dir and no-persistence ones.
func startServer(t testing.TB, extra []string) *RedisServer {
	t.Helper()
	r := newServer(t)
	r.args = append([]string{
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "no",
		"--logfile", filepath.Join(r.dir, "redis.log"),
	}, extra...)
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// newServer finds the binary, a free port and a temp dir; the caller sets
// args, then calls Start and registers Stop.
func newServer(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not on PATH (required in CI): %v", err)
		}
		t.Skip("redis-server not on PATH; install it to run the real-Redis tests")
	}
	return &RedisServer{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
}

// freePort returns a 127.0.0.1 TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// Addr is host:port.
func (r *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start (re)starts the server on the same port and waits until it answers.
func (r *RedisServer) Start() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatal("redis-server already running")
	}
	cmd := exec.Command(r.bin, r.args...)
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd, r.exit = cmd, make(chan struct{})
	go func(exit chan struct{}) { _ = cmd.Wait(); close(exit) }(r.exit)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := pingRaw(r.Addr()); err == nil {
			return
		}
		select {
		case <-r.exit:
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s not answering", r.Addr())
		}
		time.Sleep(10 * time.Millisecond) // polling the port; no event to wait on
	}
}

// Stop kills the server (no-op when stopped) and waits for it to exit.
func (r *RedisServer) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exit
	r.cmd = nil
}

// Pause stops the server with SIGSTOP: its port still accepts connections
// (the kernel completes the handshakes) but nothing answers, as with a
// Redis stuck in a long command or a frozen VM. Resume undoes it; Stop
// works on a paused server too.
func (r *RedisServer) Pause() { r.signal(syscall.SIGSTOP) }

// Resume continues a server stopped by Pause.
func (r *RedisServer) Resume() { r.signal(syscall.SIGCONT) }

func (r *RedisServer) signal(sig syscall.Signal) {
	r.t.Helper()
	if r.cmd == nil {
		r.t.Fatal("redis-server not running")
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("redis-server: %v: %v", sig, err)
	}
}

func pingRaw(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// A password-protected server answering NOAUTH is up too.
	if line != "+PONG\r\n" && !strings.HasPrefix(line, "-NOAUTH ") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}
