package httpkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ListenError is returned by Listen when the address cannot be bound.
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string {
	if errors.Is(e.Err, syscall.EADDRINUSE) {
		return fmt.Sprintf("httpkit: listen on %s: address already in use (another process holds this port; stop it or choose another listen address)", e.Addr)
	}
	return fmt.Sprintf("httpkit: listen on %s: %v", e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// Listen opens a TCP listener on addr. Errors are *ListenError naming the
// address; errors.Is(err, syscall.EADDRINUSE) tells "address in use" apart.
func Listen(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, &ListenError{Addr: addr, Err: err}
	}
	return ln, nil
}

// Timeouts and header limit of NewServer's servers: a client (or a proxy)
// gets ReadHeaderTimeout to send its headers, so a slowloris cannot hold
// connections open, and an answer must be written within WriteTimeout.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// NewServer returns the http.Server every gatewarden binary serves h with:
// the timeouts and header limit above, and the server's own errors (a
// failed TLS handshake, a malformed request) logged at warn level through
// logger, or through the log package's default logger when logger is nil.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if logger != nil {
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	}
	return srv
}

// Run serves srv on ln until ctx is cancelled (main cancels it on SIGINT or
// SIGTERM through signal.NotifyContext), then shuts down gracefully: no new
// connections are accepted and in-flight requests get up to shutdownTimeout
// to finish, after which remaining connections are closed and an error is
// returned. Run returns nil after a clean shutdown, or the serve error if the
// server stops on its own. It closes ln.
func Run(ctx context.Context, srv *http.Server, ln net.Listener, shutdownTimeout time.Duration, logger *slog.Logger) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.InfoContext(ctx, "serving", slog.String(KeyAddr, ln.Addr().String()))

	select {
	case err := <-serveErr:
		return fmt.Errorf("httpkit: serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", slog.Duration("timeout", shutdownTimeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("httpkit: shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpkit: serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}
