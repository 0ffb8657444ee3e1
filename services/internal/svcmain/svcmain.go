// Package svcmain is the start-up and HTTP skeleton shared by the catalog
// and inventory services: it loads the configuration (svcconfig), builds
// the jwtauth verifier, the logger and the Prometheus registry, gives the
// service a gin engine with health, readiness and metrics routes plus a
// group behind jwtauth, and serves until the context is cancelled
// (SIGINT/SIGTERM), letting in-flight requests finish.
package svcmain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gatewarden/gatewarden/services/internal/database"
	"github.com/gatewarden/gatewarden/services/internal/svcconfig"
	"github.com/gatewarden/gatewarden/services/shared/ginkit"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth/ginjwt"
	"github.com/gatewarden/gatewarden/services/shared/options"
	"github.com/gatewarden/gatewarden/services/shared/tracing"
)

// Exit codes of Main (those of every binary, services/shared/options).
const (
	ExitOK      = options.ExitOK
	ExitFailure = options.ExitFailure // could not start or serve
	ExitConfig  = options.ExitConfig  // invalid configuration or flags
)

// Deps are what a service's router is built from.
type Deps struct {
	Verifier *jwtauth.Verifier
	Logger   *slog.Logger
	// Registry receives the request metrics; /metrics serves it.
	Registry *prometheus.Registry
	// DB is the service's migrated database (nil when the service has no
	// Schema).
	DB *database.DB
	// Tracing, when on, names the server span after the gin route and gives
	// each authenticated route's handler a span; nil = off.
	Tracing *tracing.Tracing
}

// Service describes one binary.
type Service struct {
	Name            string // "catalog"; used in usage and log lines
	DefaultAudience string // --audience default
	// Schema is the service's migrations; with a Name, the database from
	// --database is opened and migrated before Handler is called.
	Schema database.Schema
	// Handler builds the service's HTTP handler (usually with Router).
	Handler func(Deps) (http.Handler, error)
}

// Process is the outside world of one run: arguments, environment and
// output streams, so tests can run a service's main logic in-process.
type Process struct {
	Args      []string
	LookupEnv func(string) (string, bool)
	Stdout    io.Writer // --check-config output
	Stderr    io.Writer // logs, usage and configuration errors
	// Listening, if set, is called with the bound address once the
	// server accepts connections (tests use --listen 127.0.0.1:0).
	Listening func(net.Addr)
}

// Exec is a service's whole main: it runs svc with the process's arguments,
// environment and output until SIGINT or SIGTERM, then exits with Main's
// code.
func Exec(svc Service) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, svc, Process{Args: os.Args[1:], LookupEnv: os.LookupEnv, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// Main runs svc until ctx is cancelled and returns the exit code.
func Main(ctx context.Context, svc Service, p Process) int {
	cfg, err := svcconfig.Load(svc.Name, svc.DefaultAudience, p.Args, p.LookupEnv, p.Stderr)
	if code, stop := options.Report(svc.Name, cfg, err, p.Stdout, p.Stderr); stop {
		return code
	}

	logger := httpkit.NewLogger(p.Stderr, cfg.LogLevel).With(slog.String("service", svc.Name))
	logger.Info("starting", slog.Any("config", cfg))
	tr, err := tracing.Setup(ctx, svc.Name, func(k string) string { v, _ := p.LookupEnv(k); return v })
	if err != nil {
		logger.Error("tracing setup failed", slog.String(httpkit.KeyError, err.Error()))
		return ExitFailure
	}
	defer tr.Close(logger)
	logger = tr.Logger(logger)
	if err := serve(ctx, svc, cfg, p, logger, tr); err != nil {
		logger.Error("stopped with error", slog.String(httpkit.KeyError, err.Error()))
		return ExitFailure
	}
	return ExitOK
}

func serve(ctx context.Context, svc Service, cfg svcconfig.Config, p Process, logger *slog.Logger, tr *tracing.Tracing) error {
	reg := prometheus.NewRegistry()
	vcfg := cfg.Verifier()
	vcfg.Logger = logger
	vcfg.OnJWKSFetch = jwksFetches(reg)
	vcfg.HTTPClient = tr.Client(&http.Client{Timeout: 10 * time.Second})
	vcfg.Tracer = tr.Tracer("github.com/gatewarden/gatewarden/services/shared/jwtauth")
	verifier, err := jwtauth.New(ctx, vcfg)
	if err != nil {
		return fmt.Errorf("svcmain: verifier: %w", err)
	}
	defer verifier.Close()

	var db *database.DB
	if svc.Schema.Name != "" {
		if cfg.Database.Dialect == database.SQLite {
			logger.Warn("embedded SQLite database: for development only", slog.Any("database", cfg.Database))
		}
		db, err = database.OpenTraced(ctx, cfg.Database, svc.Schema, logger, tr.Tracer("github.com/gatewarden/gatewarden/services/internal/database"))
		if err != nil {
			return fmt.Errorf("svcmain: %w", err)
		}
		defer db.Close()
	}

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	handler, err := svc.Handler(Deps{Verifier: verifier, Logger: logger, Registry: reg, DB: db, Tracing: tr})
	if err != nil {
		return fmt.Errorf("svcmain: build handler: %w", err)
	}

	ln, err := httpkit.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	if p.Listening != nil {
		p.Listening(ln.Addr())
	}
	return httpkit.Run(ctx, httpkit.NewServer(tr.Middleware(handler), logger), ln, cfg.ShutdownTimeout, logger)
}

// Router returns the engine every service starts from (ginkit.NewEngine,
// request metrics, GET /healthz, /readyz (ready once the verifier has its
// keys and the database, if any, answers), /metrics, none of them behind
// authentication) and the group that
// every business route must be added to: it sits behind jwtauth.
func Router(d Deps) (*gin.Engine, *gin.RouterGroup, error) {
	if d.Verifier == nil || d.Logger == nil || d.Registry == nil {
		return nil, nil, errors.New("svcmain: router: verifier, logger and registry are required")
	}
	r := ginkit.NewEngine(d.Logger)
	tracer := d.Tracing.Tracer("github.com/gatewarden/gatewarden/services/internal/svcmain")
	if tracer != nil {
		r.Use(routeSpanName)
	}
	metrics, err := ginkit.Metrics(d.Registry)
	if err != nil {
		return nil, nil, err
	}
	r.Use(metrics)
	ginkit.RegisterHealth(r, httpkit.Health(func(ctx context.Context) error {
		if err := d.Verifier.Ready(); err != nil {
			return err
		}
		if d.DB != nil {
			return d.DB.PingContext(ctx)
		}
		return nil
	}))
	r.GET("/metrics", gin.WrapH(httpkit.MetricsHandler(d.Registry)))
	if tracer != nil {
		return r, r.Group("/", ginjwt.Middleware(d.Verifier), handlerSpan(tracer)), nil
	}
	return r, r.Group("/", ginjwt.Middleware(d.Verifier)), nil
}
