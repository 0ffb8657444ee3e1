package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Netns is a named network namespace (/run/netns/NAME) that holds the whole cluster. It has
// loopback, a veth pair whose ends both stay inside it (the node's address), and the cluster's
// bridge: no link leads out of it, so nothing in it can send a packet off the machine.
type Netns struct {
	Name string
	Path string // /run/netns/NAME

	ns   *os.File // the namespace
	host *os.File // the namespace this process started in
}

// nodeLink and nodePeer are the veth pair carrying the node's address.
const (
	nodeLink = "gwnode0"
	nodePeer = "gwnode1"
)

// createNetns creates the namespace and its links: lo, the veth pair with nodeCIDR on nodeLink,
// and a route for the service range on nodeLink so in-namespace clients reach ClusterIPs.
func createNetns(ctx context.Context, name, nodeCIDR, serviceCIDR string) (*Netns, error) {
	if err := run(ctx, "ip", "netns", "add", name); err != nil {
		return nil, fmt.Errorf("netns: add %s: %w", name, err)
	}
	n := &Netns{Name: name, Path: "/run/netns/" + name}
	steps := [][]string{
		{"ip", "-n", name, "link", "set", "lo", "up"},
		{"ip", "-n", name, "link", "add", nodeLink, "type", "veth", "peer", "name", nodePeer},
		{"ip", "-n", name, "addr", "add", nodeCIDR, "dev", nodeLink},
		{"ip", "-n", name, "link", "set", nodeLink, "up"},
		{"ip", "-n", name, "link", "set", nodePeer, "up"},
		{"ip", "-n", name, "route", "add", serviceCIDR, "dev", nodeLink},
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			_ = n.Delete(ctx)
			return nil, fmt.Errorf("netns: %w", err)
		}
	}
	var err error
	if n.ns, err = os.Open(n.Path); err != nil {
		_ = n.Delete(ctx)
		return nil, fmt.Errorf("netns: open: %w", err)
	}
	if n.host, err = os.Open("/proc/self/ns/net"); err != nil {
		_ = n.Delete(ctx)
		return nil, fmt.Errorf("netns: open host namespace: %w", err)
	}
	return n, nil
}

// Delete removes the namespace (and the links inside it).
func (n *Netns) Delete(ctx context.Context) error {
	if n.ns != nil {
		n.ns.Close()
	}
	if n.host != nil {
		n.host.Close()
	}
	if _, err := os.Stat(n.Path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return run(ctx, "ip", "netns", "delete", n.Name)
}

// Sysctl writes a sysctl inside the namespace.
func (n *Netns) Sysctl(ctx context.Context, key, value string) error {
	return run(ctx, "nsenter", "--net="+n.Path, "sysctl", "-q", "-w", key+"="+value)
}

// Command is exec.Command run inside the namespace (only its network namespace: entering the
// mount namespace too, as `ip netns exec` does, would hide kubelet's mounts from containerd).
func (n *Netns) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.Path, "--", name}, args...)...)
}

// DialContext opens a TCP connection from inside the namespace. addr must be an IP address
// and port: names are not resolved (a lookup would run outside the namespace).
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if net.ParseIP(host) == nil {
		return nil, fmt.Errorf("netns dial %s: an IP address is needed, not a name", addr)
	}
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	// A fresh goroutine locked to its thread: the socket is created on a thread that has
	// entered the namespace, and a socket keeps its namespace for life.
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(n.ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		ch <- result{c, err}
		if unix.Setns(int(n.host.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		// Otherwise the goroutine ends locked, and the runtime throws the thread away.
	}()
	r := <-ch
	return r.c, r.err
}

// Forward listens on 127.0.0.1 (a free port) in the host's namespace and relays every
// connection to target inside the namespace. It returns the local address; the listener closes
// with ctx.
func (n *Netns) Forward(ctx context.Context, target string) (string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("forward %s: %w", target, err)
	}
	go func() { <-ctx.Done(); l.Close() }()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go n.relay(ctx, c, target)
		}
	}()
	return l.Addr().String(), nil
}

func (n *Netns) relay(ctx context.Context, c net.Conn, target string) {
	defer c.Close()
	up, err := n.DialContext(ctx, "tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
}

// run runs a command and returns its combined output in the error when it fails.
func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
