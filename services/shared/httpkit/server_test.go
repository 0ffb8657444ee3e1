package httpkit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunFinishesInFlightRequestOnCancel(t *testing.T) {
	t.Parallel()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	release := make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(started)
			<-release
			_, _ = io.WriteString(w, "finished")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	shuttingDown := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shuttingDown) })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- Run(ctx, srv, ln, time.Minute, NewLogger(io.Discard, slog.LevelInfo)) }()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	url := "http://" + ln.Addr().String() + "/slow"
	go func() {
		resp, err := http.Get(url) //nolint:noctx // test client.
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{status: resp.StatusCode, body: string(b), err: err}
	}()

	<-started
	cancel()       // what SIGTERM does through signal.NotifyContext
	<-shuttingDown // Shutdown has begun while the request is in flight
	select {
	case err := <-runErr:
		t.Fatalf("Run returned %v before the in-flight request finished", err)
	default:
	}
	close(release)

	r := <-got
	if r.err != nil || r.status != http.StatusOK || r.body != "finished" {
		t.Fatalf("in-flight request = %d %q %v; want 200 finished", r.status, r.body, r.err)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run = %v, want nil after clean shutdown", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("listener still accepts connections after shutdown")
	}
}

func TestRunShutdownTimeout(t *testing.T) {
	t.Parallel()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			close(started)
			<-r.Context().Done() // never finishes on its own; Close cancels it
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- Run(ctx, srv, ln, time.Millisecond, NewLogger(io.Discard, slog.LevelInfo)) }()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String()) //nolint:noctx // test client.
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	if err := <-runErr; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want a shutdown deadline error", err)
	}
}

func TestRunReturnsServeError(t *testing.T) {
	t.Parallel()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Serve fails at once
	srv := &http.Server{ReadHeaderTimeout: time.Second}
	if err := Run(context.Background(), srv, ln, time.Second, NewLogger(io.Discard, slog.LevelInfo)); err == nil {
		t.Fatal("Run = nil on a closed listener")
	}
}

func TestListenAddressInUse(t *testing.T) {
	t.Parallel()
	first, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	addr := first.Addr().String()

	_, err = Listen(addr)
	var le *ListenError
	if !errors.As(err, &le) || le.Addr != addr {
		t.Fatalf("err = %v, want *ListenError for %s", err, addr)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("errors.Is(err, EADDRINUSE) = false for %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, addr) || !strings.Contains(msg, "address already in use") {
		t.Errorf("message %q does not name the address and the problem", msg)
	}

	_, err = Listen("127.0.0.1:notaport")
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "127.0.0.1:notaport") {
		t.Errorf("bad address err = %v, want ListenError naming it", err)
	}
}

// TestNewServer: every timeout that bounds a slow or idle client is set,
// and the server's own errors go to the JSON logger.
func TestNewServer(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	hs := NewServer(http.NotFoundHandler(), NewLogger(&logs, slog.LevelInfo))
	if hs.ReadHeaderTimeout <= 0 || hs.ReadTimeout <= 0 || hs.WriteTimeout <= 0 || hs.IdleTimeout <= 0 || hs.MaxHeaderBytes <= 0 {
		t.Errorf("unbounded server: %+v", hs)
	}
	hs.ErrorLog.Print("http: TLS handshake error")
	if l := logs.lines(t); len(l) != 1 || l[0]["level"] != "WARN" || l[0]["msg"] != "http: TLS handshake error" {
		t.Errorf("server error line: %s", logs.String())
	}
	if NewServer(http.NotFoundHandler(), nil).ErrorLog != nil {
		t.Error("nil logger: ErrorLog set")
	}
}
