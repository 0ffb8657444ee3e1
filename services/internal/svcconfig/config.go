// Package svcconfig loads and validates the configuration shared by the
// catalog and inventory services: listen address, trusted token issuers,
// audience, leeway, log level, shutdown timeout and database, from flags and
// environment variables (a flag given on the command line wins), through
// one option table (services/shared/options).
//
// Every problem is reported at once, and Summary / LogValue, derived from
// the table, describe a configuration without any secret.
package svcconfig

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gatewarden/gatewarden/services/internal/database"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
	"github.com/gatewarden/gatewarden/services/shared/options"
)

// Defaults shared by both services.
const (
	DefaultListen          = ":8080"
	DefaultLogLevel        = "info"
	DefaultShutdownTimeout = 15 * time.Second
	// MaxLeeway bounds the clock-skew allowance: a larger one would keep
	// expired tokens alive for too long.
	MaxLeeway = 5 * time.Minute
)

// Sentinel errors.
var (
	// ErrHelp is returned by Load when -h or --help was asked for; the usage
	// has been printed.
	ErrHelp = options.ErrHelp
	// ErrInvalid wraps every configuration problem.
	ErrInvalid = options.ErrInvalid
)

// Config is a service's validated configuration.
type Config struct {
	Listen   string
	Audience string
	Issuers  []jwtauth.IssuerConfig
	Leeway   time.Duration
	// RevocationFeed is the revocation feed's URL ("" = not followed),
	// read every RevocationInterval; RevocationMaxStale is the verifier's
	// staleness bound (jwtauth.RevocationConfig).
	RevocationFeed     string
	RevocationInterval time.Duration
	RevocationMaxStale time.Duration
	LogLevel           slog.Level
	ShutdownTimeout    time.Duration
	CheckConfig        bool
	// Database is where the service keeps its data (--database); the
	// default is the embedded in-memory SQLite database.
	Database database.Source

	// sources says where each option's value came from (--check-config).
	sources map[string]string
}

// options is the services' option table, bound to c's fields; the
// audience defaults to defaultAudience. Load fills c through it, LogValue
// and Summary read c through it, and the README's table is rendered from
// it.
func (c *Config) options(name, defaultAudience string) options.Set {
	return options.Set{
		Program: name,
		Options: []options.Option{
			{Name: "listen", Env: "LISTEN_ADDR", Default: DefaultListen, Usage: "address to serve on (host:port)", Value: options.String(&c.Listen)},
			{Name: "audience", Env: "JWT_AUDIENCE", Default: defaultAudience, DocDefault: "the service's name: `catalog`, `inventory`", Usage: "`aud` every token must contain (an issuer's `aud=` overrides it)", Value: options.String(&c.Audience)},
			{
				Name: "issuer", Env: "JWT_ISSUERS", Sep: ";", Repeatable: true, DocDefault: "at least one",
				Usage: "trusted issuer: `iss=<iss>,jwks=<url>[,aud=..][,algs=RS256|ES256]`, `iss=<iss>,pem=<file>[,pem=..]` or `iss=<iss>,hmac-file=<file>`",
				Value: options.List(&c.Issuers, jwtauth.ParseIssuerSpec, func(ic jwtauth.IssuerConfig) string { return describeIssuer(ic, c.Audience) }),
			},
			{Name: "leeway", Env: "JWT_LEEWAY", Default: jwtauth.DefaultLeeway.String(), Usage: "clock skew allowed on `exp`/`nbf`/`iat` (at most 5m)", Value: options.Duration(&c.Leeway)},
			{Name: "revocation-feed", Env: "REVOCATION_FEED_URL", DocDefault: "none", Usage: "authproxy's revocation feed, `http://<authproxy>:4180/revocations`: tokens of revoked sessions and users are refused (401), and every token a revocation could match (all but the gateway's anonymous tokens) while the feed has not been read for `--revocation-max-stale` (503)", Value: options.String(&c.RevocationFeed)},
			{Name: "revocation-poll-interval", Env: "REVOCATION_POLL_INTERVAL", Default: jwtauth.DefaultRevocationInterval.String(), Usage: "how often the revocation feed is read (a conditional GET)", Value: options.Duration(&c.RevocationInterval)},
			{Name: "revocation-max-stale", Env: "REVOCATION_MAX_STALE", Default: jwtauth.DefaultRevocationMaxStale.String(), Usage: "after this long without a successful read of the feed, every token a revocation could match is refused with 503 until it is read again; one read may take at most the poll interval", Value: options.Duration(&c.RevocationMaxStale)},
			{Name: "log-level", Env: "LOG_LEVEL", Default: DefaultLogLevel, Usage: "debug, info, warn or error", Value: options.Level(&c.LogLevel)},
			{Name: "shutdown-timeout", Env: "SHUTDOWN_TIMEOUT", Default: DefaultShutdownTimeout.String(), Usage: "time in-flight requests get after SIGTERM", Value: options.Duration(&c.ShutdownTimeout)},
			{
				Name: "database", Env: "DATABASE_URL", Default: database.Memory, DocDefault: "in-memory SQLite",
				Usage: "`postgres://user@host:5432/db?sslmode=verify-full` (password from `PGPASSWORD` or the URL; other libpq `PG*` variables apply), `sqlite:<file>`, or empty for the embedded in-memory database; shown and logged without its password",
				Value: options.Scalar(&c.Database, database.ParseURL, func(s database.Source) string { return fmt.Sprintf("%s (%s)", s, s.Dialect) }),
			},
		},
	}
}

// Load parses args and the environment (read through lookup) for the
// service called name, whose default audience is defaultAudience, and
// validates the result. Usage and flag errors are written to usageOut.
// A help request returns ErrHelp; anything else wrong returns an error
// wrapping ErrInvalid that lists every problem, one a line.
func Load(name, defaultAudience string, args []string, lookup func(string) (string, bool), usageOut io.Writer) (Config, error) {
	var cfg Config
	getenv := func(k string) string { v, _ := lookup(k); return v }
	loaded, err := cfg.options(name, defaultAudience).Load(args, getenv, usageOut)
	if err != nil {
		return Config{}, err
	}
	cfg.CheckConfig, cfg.sources = loaded.CheckConfig, loaded.Sources
	errs := loaded.Problems
	add := func(err error) { errs = append(errs, options.Problemf("%w", err)) }
	if err := checkListen(cfg.Listen); err != nil {
		add(err)
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		add(errors.New("--audience is empty"))
	}
	if cfg.Leeway > MaxLeeway {
		add(fmt.Errorf("--leeway %s is above the maximum %s", cfg.Leeway, MaxLeeway))
	}
	if cfg.ShutdownTimeout <= 0 {
		add(fmt.Errorf("--shutdown-timeout %s must be positive", cfg.ShutdownTimeout))
	}
	// The verifier's own checks (keys, algorithms, audiences, duplicates).
	// With unparsable specs, "no issuer" would only repeat those errors.
	if len(cfg.Issuers) > 0 || !loaded.Failed("issuer") {
		if err := cfg.Verifier().Validate(); err != nil {
			add(err)
		}
	}
	return cfg, options.Invalid(errs...)
}

// Verifier returns the jwtauth configuration (without logger, client or
// clock, which the caller adds).
func (c Config) Verifier() jwtauth.Config {
	vc := jwtauth.Config{Issuers: c.Issuers, Audience: c.Audience, Leeway: c.Leeway}
	if c.RevocationFeed != "" {
		vc.Revocations = &jwtauth.RevocationConfig{URL: c.RevocationFeed, Interval: c.RevocationInterval, MaxStale: c.RevocationMaxStale}
	}
	return vc
}

func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: want host:port (e.g. :8080): %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--listen %q: port must be a number from 0 to 65535", addr)
	}
	return nil
}

// LogValue implements slog.LogValuer: every option of the table; issuers
// are described without their keys and the database without its password.
func (c Config) LogValue() slog.Value { return c.options("", "").LogValue() }

// Summary is the effective configuration for --check-config, one setting
// a line with where it came from. Secrets are never shown: an HMAC issuer
// shows "hmac (secret redacted)", PEM keys only their count, the database
// URL no password.
func (c Config) Summary() string { return c.options("", "").Summary(c.sources) }

// CheckOnly reports whether --check-config was given.
func (c Config) CheckOnly() bool { return c.CheckConfig }

// describeIssuer shows an issuer without its keys; aud falls back to the
// service's audience.
func describeIssuer(ic jwtauth.IssuerConfig, audience string) string {
	aud := ic.Audience
	if aud == "" {
		aud = audience + " (default)"
	}
	var source string
	switch {
	case ic.JWKSURL != "":
		source = "jwks " + ic.JWKSURL
	case len(ic.PEMKeys) > 0:
		source = fmt.Sprintf("pem (%d key files)", len(ic.PEMKeys))
	case len(ic.HMACSecret) > 0:
		source = "hmac (secret redacted)"
	}
	algs := "implied by keys"
	if len(ic.Algorithms) > 0 {
		algs = strings.Join(ic.Algorithms, "|")
	}
	return fmt.Sprintf("%s; aud: %s; keys: %s; algs: %s", ic.Issuer, aud, source, algs)
}
