package e2e

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/stack"
)

// TestSlowClientsCutOff (issue 11): every gateway cuts off a client that trickles its headers
// or stalls in the middle of an announced body, instead of holding the connection for minutes.
// The stacks run with short limits (1s headers, 2s body, 3s idle) so the test is quick; the
// defaults (stack.Default*Timeout) are what `make run` uses. A client gets 15s: far above the
// limits, far below the proxies' own defaults (nginx 60s, Caddy none for the body).
func TestSlowClientsCutOff(t *testing.T) {
	t.Parallel()
	limits := stack.GatewayTimeouts{ReadHeader: time.Second, ReadBody: 2 * time.Second, Idle: 3 * time.Second}
	const bound = 15 * time.Second
	for _, p := range stack.Proxies() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			ok, what := proxyAvailable(p)
			requireTool(t, ok, what)
			s := startStackWith(t, stack.Options{Proxy: p, GatewayTimeouts: limits})
			addr := strings.TrimPrefix(s.GatewayURL, "http://")
			tests := []struct {
				name string
				head string // sent at once
				drip string // then one byte every 200ms
			}{
				{
					name: "headers trickled (slowloris)",
					head: "GET /products HTTP/1.1\r\nHost: " + addr + "\r\n",
					drip: "X-Slow: " + strings.Repeat("a", 200),
				},
				{
					name: "body announced, then stalled",
					head: "GET /products HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"a\":",
				},
				{
					name: "idle keep-alive connection",
					head: "GET /products HTTP/1.1\r\nHost: " + addr + "\r\nAccept: application/json\r\n\r\n",
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					if held := holdConnection(t, addr, tt.head, tt.drip, bound); held >= bound {
						t.Fatalf("the gateway still held the connection after %v", held)
					}
				})
			}
		})
	}
}

// holdConnection sends head, then drip one byte at a time, reading whatever comes back, and
// returns how long the gateway kept the connection open (bound when it never closed it).
func holdConnection(t *testing.T, addr, head, drip string, bound time.Duration) time.Duration {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.SetDeadline(start.Add(bound)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(drip); i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := c.Write([]byte{drip[i]}); err != nil {
				return
			}
		}
	}()
	_, err = io.Copy(io.Discard, c) // until the gateway closes (EOF or reset) or the deadline
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return bound
	}
	return time.Since(start)
}
