// Command devidp runs the development identity provider, a FusionAuth stand-in for the local stack
// and tests (see package hack/devidp). Development only.
//
// Configuration: flags > DEVIDP_* environment > defaults (the table in config.go); run with -h for
// the list, --check-config to validate, print the effective configuration and exit.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/options"
	"github.com/gatewarden/gatewarden/services/shared/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx is cancelled and returns the exit code: 0 ok, 1 runtime failure, 2 bad
// configuration. Logs go to stdout, problems to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(args, getenv, stderr)
	if code, stop := options.Report("devidp", cfg, err, stdout, stderr); stop {
		return code
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	tr, err := tracing.Setup(ctx, "devidp", getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return options.ExitFailure
	}
	defer tr.Close(logger)
	logger = tr.Logger(logger)
	if err := serve(ctx, cfg, logger, tr); err != nil {
		fmt.Fprintln(stderr, err)
		return options.ExitFailure
	}
	return options.ExitOK
}

func serve(ctx context.Context, cfg *config, logger *slog.Logger, tr *tracing.Tracing) error {
	srv, err := devidp.New(cfg.idp(logger))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("devidp: listen on %s: %w", cfg.Listen, err)
	}
	hs := httpkit.NewServer(tr.Middleware(srv.Handler()), logger)
	logger.Info("devidp listening", slog.String("addr", ln.Addr().String()), slog.Any("config", cfg))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("devidp: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("devidp: shutdown: %w", err)
	}
	logger.Info("devidp stopped")
	return nil
}
