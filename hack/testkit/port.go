package testkit

import (
	"fmt"
	"net"
	"testing"
)

// PickPort returns a 127.0.0.1 TCP port that was free a moment ago, for a server that must
// be told its address before it starts (a child process, a redirect URL known in advance).
func PickPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testkit: free port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreePort is PickPort for tests: it fails t when no port is free.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
