// Command authproxy is gatewarden's forward-auth service: ingresses
// (Traefik, Caddy, nginx, Envoy) ask it about every request; it checks the
// user's FusionAuth login (a session in Redis, or a bearer access token)
// against the route rules and answers with the token the ingress forwards.
//
// Configuration: flags > AUTHPROXY_* environment > --config YAML file >
// defaults (the table in internal/config); run with -h for the list,
// --check-config to validate, print the effective configuration and exit.
//
// `authproxy sessions list|revoke` is the operator's command for a user's
// sessions (package admin); run `authproxy sessions -h`.
package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/admin"
	"github.com/gatewarden/gatewarden/authproxy/internal/app"
	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/options"
	"github.com/gatewarden/gatewarden/services/shared/tracing"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == admin.Command {
		// The command reports Redis failures itself, once; go-redis would
		// also log each failed dial to stderr.
		redis.SetLogger(quietRedis{})
	}
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// run returns the exit code: 0 ok, 1 runtime failure, 2 bad configuration.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == admin.Command {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return admin.Sessions(ctx, args[1:], admin.Env{
			Getenv: getenv, Stdout: stdout, Stderr: stderr, Audit: httpkit.NewLogger(stderr, slog.LevelInfo),
		})
	}
	cfg, err := config.Load(args, getenv, stderr)
	if code, stop := options.Report("authproxy", cfg, err, stdout, stderr); stop {
		return code
	}
	logger := httpkit.NewLogger(stderr, cfg.LogLevel)
	logger.Info("starting authproxy", "config", cfg)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tr, err := tracing.Setup(ctx, "authproxy", getenv)
	if err != nil {
		logger.Error("tracing setup failed", "error", err.Error())
		return 1
	}
	defer tr.Close(logger)
	logger = tr.Logger(logger)

	a, err := app.New(app.Deps{
		Config: cfg, Logger: logger, Tracing: tr,
		HTTPClient: tr.Client(&http.Client{Timeout: 10 * time.Second}),
	})
	if err != nil {
		logger.Error("startup failed", "error", err.Error())
		return 1
	}
	defer a.Close()

	type listener struct {
		addr string
		h    http.Handler
	}
	servers := []listener{{cfg.Listen, a.Handler()}}
	if h := a.IdPHandler(); h != nil {
		servers = append(servers, listener{cfg.WebhookListen, h})
	}
	lns := make([]net.Listener, 0, len(servers))
	for _, sv := range servers {
		ln, err := httpkit.Listen(sv.addr)
		if err != nil {
			logger.Error("listen failed", "error", err.Error())
			for _, l := range lns {
				_ = l.Close()
			}
			return 1
		}
		lns = append(lns, ln)
	}
	// Every listener serves until the signal; one that stops on its own
	// stops the others.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(servers))
	for i, sv := range servers {
		go func() {
			err := httpkit.Run(ctx, httpkit.NewServer(sv.h, logger), lns[i], cfg.ShutdownTimeout, logger)
			cancel()
			errs <- err
		}()
	}
	code := 0
	for range servers {
		if err := <-errs; err != nil {
			logger.Error("server stopped", "error", err.Error())
			code = 1
		}
	}
	return code
}
