// Package svcconfig loads and validates the configuration shared by the
// catalog and inventory services: listen address, trusted token issuers,
// audience, leeway, log level, shutdown timeout and database, from flags and
// environment variables (a flag given on the command line wins).
//
// Every problem is reported at once (errors.Join), and Summary / LogValue
// describe a configuration without any secret.
package svcconfig

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gatewarden/gatewarden/services/internal/database"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
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
	ErrHelp = flag.ErrHelp
	// ErrInvalid wraps every configuration problem.
	ErrInvalid = errors.New("svcconfig: invalid configuration")
)

// Config is a service's validated configuration.
type Config struct {
	Listen          string
	Audience        string
	Issuers         []jwtauth.IssuerConfig
	Leeway          time.Duration
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
	CheckConfig     bool
	// Database is where the service keeps its data (--database); the
	// default is the embedded in-memory SQLite database.
	Database database.Source
}

// envNames maps each flag to its environment variable ("-": none).
func envNames() map[string]string {
	return map[string]string{
		"listen":           "LISTEN_ADDR",
		"audience":         "JWT_AUDIENCE",
		"issuer":           "JWT_ISSUERS",
		"leeway":           "JWT_LEEWAY",
		"log-level":        "LOG_LEVEL",
		"shutdown-timeout": "SHUTDOWN_TIMEOUT",
		"check-config":     "-",
		"database":         "DATABASE_URL",
	}
}

// specList is the repeatable --issuer flag.
type specList []string

func (s *specList) String() string { return strings.Join(*s, ";") }

func (s *specList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// Load parses args and the environment (read through lookup) for the
// service called name, whose default audience is defaultAudience, and
// validates the result. Usage and flag errors are written to usageOut.
// A help request returns ErrHelp; anything else wrong returns an error
// wrapping ErrInvalid that lists every problem, one a line.
func Load(name, defaultAudience string, args []string, lookup func(string) (string, bool), usageOut io.Writer) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usageOut)
	var (
		cfg      Config
		specs    specList
		logLevel string
		dbURL    string
	)
	fs.StringVar(&cfg.Listen, "listen", DefaultListen, "address to serve on (host:port)")
	fs.StringVar(&cfg.Audience, "audience", defaultAudience, "audience (aud) every token must contain, unless its issuer sets aud=")
	fs.Var(&specs, "issuer", "trusted issuer, repeatable: iss=<iss>,jwks=<url>[,aud=..][,algs=RS256|ES256] | iss=<iss>,pem=<file>[,pem=..] | iss=<iss>,hmac-file=<file>")
	fs.DurationVar(&cfg.Leeway, "leeway", jwtauth.DefaultLeeway, "clock skew allowed on exp/nbf/iat (0 means the default, at most 5m)")
	fs.StringVar(&logLevel, "log-level", DefaultLogLevel, "debug, info, warn or error")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "how long in-flight requests may run after SIGTERM")
	fs.StringVar(&dbURL, "database", "", "postgres://user@host:5432/db (password from PGPASSWORD), sqlite:<file>, or empty for an in-memory database")
	fs.BoolVar(&cfg.CheckConfig, "check-config", false, "validate the configuration, print a summary and exit (0 ok, 2 invalid)")

	ef := httpkit.EnvFlags{Names: envNames(), Split: map[string]string{"issuer": ";"}, Lookup: lookup}
	fs.Usage = ef.Usage(fs, "usage: "+name+" [flags]")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, ErrHelp
		}
		return Config{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("%w: unexpected arguments %q", ErrInvalid, fs.Args())
	}

	var errs []error
	add := func(err error) { errs = append(errs, err) }
	if err := ef.Apply(fs); err != nil {
		add(err)
	}
	level, err := httpkit.ParseLevel(logLevel)
	if err != nil {
		add(fmt.Errorf("--log-level: %w", err))
	}
	cfg.LogLevel = level
	if cfg.Database, err = database.ParseURL(dbURL); err != nil {
		add(fmt.Errorf("--database: %w", err))
	}
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
	specErrs := false
	for i, spec := range specs {
		ic, err := jwtauth.ParseIssuerSpec(spec)
		if err != nil {
			specErrs = true
			// One line per problem, each naming the flag occurrence.
			for line := range strings.SplitSeq(err.Error(), "\n") {
				add(fmt.Errorf("--issuer #%d: %s", i+1, line))
			}
			continue
		}
		cfg.Issuers = append(cfg.Issuers, ic)
	}
	// The verifier's own checks (keys, algorithms, audiences, duplicates).
	// With unparsable specs, "no issuer" would only repeat those errors.
	if len(cfg.Issuers) > 0 || !specErrs {
		if err := cfg.Verifier().Validate(); err != nil {
			add(err)
		}
	}
	if len(errs) > 0 {
		return cfg, fmt.Errorf("%w:\n%w", ErrInvalid, errors.Join(errs...))
	}
	return cfg, nil
}

// Verifier returns the jwtauth configuration (without logger, client or
// clock, which the caller adds).
func (c Config) Verifier() jwtauth.Config {
	return jwtauth.Config{Issuers: c.Issuers, Audience: c.Audience, Leeway: c.Leeway}
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

// LogValue implements slog.LogValuer; issuers log through jwtauth's
// redacting LogValue, so no secret is ever written.
func (c Config) LogValue() slog.Value {
	issuers := make([]slog.Attr, len(c.Issuers))
	for i, ic := range c.Issuers {
		issuers[i] = slog.Any(strconv.Itoa(i), ic)
	}
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("audience", c.Audience),
		slog.Attr{Key: "issuers", Value: slog.GroupValue(issuers...)},
		slog.String("leeway", c.Leeway.String()),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.Any("database", c.Database),
	)
}

// Summary describes the configuration for --check-config, one setting a
// line. Secrets are shown only as "redacted"; PEM keys only by count.
func (c Config) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\naudience: %s\nleeway: %s\nlog-level: %s\nshutdown-timeout: %s\n",
		c.Listen, c.Audience, c.Leeway, strings.ToLower(c.LogLevel.String()), c.ShutdownTimeout)
	fmt.Fprintf(&b, "database: %s (%s)\n", c.Database, c.Database.Dialect)
	for _, ic := range c.Issuers {
		aud := ic.Audience
		if aud == "" {
			aud = c.Audience + " (default)"
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
		fmt.Fprintf(&b, "issuer: %s; aud: %s; keys: %s; algs: %s\n", ic.Issuer, aud, source, algs)
	}
	return b.String()
}
