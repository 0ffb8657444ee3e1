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
	"sync"
	"syscall"
	"time"
)

// RedisStartTimeout bounds how long Start waits for a new server to answer PING.
const RedisStartTimeout = 10 * time.Second

// RedisOptions configure a redis-server child process; the zero value is a plain throwaway
// server on a free port.
type RedisOptions struct {
	// Bin is the redis-server binary, a path or a name looked up in PATH; "" = "redis-server".
	Bin string
	// Port is its port on 127.0.0.1; 0 = a free one.
	Port int
	// Dir is its working directory (--dir); "" = a new temporary directory, removed by Close.
	Dir string
	// Extra arguments follow RedisArgs (the cluster flags, --replicaof).
	Extra []string
	// Args, when set, is the whole command line after the binary instead of RedisArgs and
	// Extra (a sentinel's config file and --sentinel). It must make the server listen on Port.
	Args []string
}

// RedisArgs is the command line of a throwaway server: port on 127.0.0.1 only, dir as its
// working directory, no persistence (no snapshots, no append-only file), protected mode. The
// log goes to standard output, which Redis collects (Output).
func RedisArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "yes",
	}
}

// Redis is a redis-server child process on 127.0.0.1. It can be stopped and started again on
// the same port, paused and resumed; it dies with this process where the system allows (Linux).
// Safe for concurrent use.
type Redis struct {
	path   string
	port   int
	dir    string
	ownDir bool
	args   []string
	out    LogBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
}

// NewRedis finds the binary and chooses the port and directory; Start runs the server. The
// error wraps exec.ErrNotFound when there is no redis-server.
func NewRedis(o RedisOptions) (*Redis, error) {
	bin := o.Bin
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("testkit: %s not found (Debian: apt-get install redis-server): %w", bin, err)
	}
	r := &Redis{path: path, port: o.Port, dir: o.Dir}
	if r.port == 0 {
		if r.port, err = PickPort(); err != nil {
			return nil, err
		}
	}
	if r.dir == "" {
		if r.dir, err = os.MkdirTemp("", "testkit-redis-"); err != nil {
			return nil, fmt.Errorf("testkit: redis: %w", err)
		}
		r.ownDir = true
	}
	r.args = o.Args
	if r.args == nil {
		r.args = append(RedisArgs(r.port, r.dir), o.Extra...)
	}
	return r, nil
}

// Addr is the server's host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Port is the server's port.
func (r *Redis) Port() int { return r.port }

// Dir is the server's working directory.
func (r *Redis) Dir() string { return r.dir }

// Output is everything the server has logged, over all its starts.
func (r *Redis) Output() string { return r.out.String() }

// PID is the running server's process id; 0 when it is not running.
func (r *Redis) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.runningLocked() {
		return 0
	}
	return r.cmd.Process.Pid
}

func (r *Redis) runningLocked() bool {
	if r.cmd == nil {
		return false
	}
	select {
	case <-r.exit:
		return false
	default:
		return true
	}
}

// Start runs the server and returns once it answers PING (a server that requires a password
// answering NOAUTH counts), or with an error, after stopping it, when it exits first, does not
// answer within RedisStartTimeout or ctx ends.
func (r *Redis) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.runningLocked() {
		r.mu.Unlock()
		return fmt.Errorf("testkit: redis-server on %s is already running", r.Addr())
	}
	cmd := exec.Command(r.path, r.args...) // the server outlives ctx: Stop ends it
	cmd.Dir = r.dir
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		return fmt.Errorf("testkit: start redis-server: %w", err)
	}
	exit := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exit) }()
	r.cmd, r.exit = cmd, exit
	r.mu.Unlock()

	err := Poll(ctx, "redis-server on "+r.Addr(), RedisStartTimeout, 10*time.Millisecond, func(ctx context.Context) error {
		select {
		case <-exit:
			return Abort(fmt.Errorf("redis-server exited at start:\n%s", r.Output()))
		default:
		}
		return ping(ctx, r.Addr())
	})
	if err != nil {
		_ = r.Stop()
		return fmt.Errorf("testkit: %w", err)
	}
	return nil
}

// Stop kills the server and waits for it to exit; it does nothing when the server is not
// running. A paused server is stopped too.
func (r *Redis) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return nil
	}
	err := r.cmd.Process.Kill()
	<-r.exit
	r.cmd = nil
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("testkit: stop redis-server: %w", err)
	}
	return nil
}

// Close stops the server and removes the directory NewRedis made for it.
func (r *Redis) Close() error {
	err := r.Stop()
	if r.ownDir {
		err = errors.Join(err, os.RemoveAll(r.dir))
	}
	return err
}

// Pause stops the server with SIGSTOP: its port still accepts connections (the kernel
// completes the handshakes) but nothing answers, as with a Redis stuck in a long command or a
// frozen machine. Resume undoes it.
func (r *Redis) Pause() error { return r.signal(syscall.SIGSTOP) }

// Resume continues a server stopped by Pause.
func (r *Redis) Resume() error { return r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.runningLocked() {
		return fmt.Errorf("testkit: redis-server on %s is not running", r.Addr())
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("testkit: redis-server: %v: %w", sig, err)
	}
	return nil
}

// ping sends PING over a plain connection and reads the reply.
func ping(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(deadline)
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" && !strings.HasPrefix(line, "-NOAUTH ") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
