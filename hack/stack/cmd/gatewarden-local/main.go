// Command gatewarden-local runs the whole gatewarden system on this machine: the dev IdP
// (FusionAuth stand-in), Redis (redis-server when on PATH, else embedded), authproxy, catalog,
// inventory and a front proxy doing forward auth (Caddy embedded as a library by default), all
// on 127.0.0.1. It prints the gateway URL, the dev users and where each part listens, and stops
// everything on Ctrl-C or SIGTERM.
//
//	cd hack/stack && go run ./cmd/gatewarden-local [flags]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gatewarden/gatewarden/hack/stack"
	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gatewarden-local:", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	def := stack.DefaultPorts()
	fs := flag.NewFlagSet("gatewarden-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts     stack.Options
		proxy    = fs.String("proxy", string(stack.ProxyCaddyEmbedded), "front proxy: caddy-embedded | nginx | caddy (the caddy binary on PATH)")
		redis    = fs.String("redis", "auto", "Redis: auto (redis-server when on PATH, else embedded) | server | embedded")
		quiet    = fs.Bool("quiet", false, "do not print the parts' log lines")
		binDir   = fs.String("bin-dir", "", "use prebuilt authproxy, catalog, inventory and devidp binaries from this directory instead of building them")
		workDir  = fs.String("work-dir", "", "directory for generated configuration, secrets and Redis data (default: a temporary directory, removed on exit)")
		timeout  = fs.Duration("ready-timeout", 60*time.Second, "how long each part may take to become ready")
		logLevel = fs.String("log-level", "info", "log level of authproxy, catalog, inventory: debug | info | warn | error")
	)
	fs.IntVar(&opts.Ports.Gateway, "gateway-port", def.Gateway, "gateway (front proxy) port")
	fs.IntVar(&opts.Ports.AuthProxy, "authproxy-port", def.AuthProxy, "authproxy port")
	fs.IntVar(&opts.Ports.Catalog, "catalog-port", def.Catalog, "catalog port")
	fs.IntVar(&opts.Ports.Inventory, "inventory-port", def.Inventory, "inventory port")
	fs.IntVar(&opts.Ports.DevIDP, "devidp-port", def.DevIDP, "dev IdP port")
	fs.IntVar(&opts.Ports.Redis, "redis-port", def.Redis, "Redis port (0 = a free port)")
	fs.StringVar(&opts.RulesFile, "rules", "", "authproxy route rules file (default: authproxy/rules.example.yaml)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./cmd/gatewarden-local [flags]\n\nRuns the dev IdP, Redis, authproxy, catalog, inventory and a front proxy on 127.0.0.1.\nA port of 0 picks a free port.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	opts.Proxy = stack.Proxy(*proxy)
	switch *redis {
	case "auto":
		opts.Redis = stack.RedisAuto
	case "server", "embedded":
		opts.Redis = stack.RedisMode(*redis)
	default:
		return fmt.Errorf("-redis: %q is not auto, server or embedded", *redis)
	}
	opts.ReadyTimeout = *timeout
	opts.LogLevel = *logLevel
	opts.WorkDir = *workDir
	if !*quiet {
		opts.Output = stdout
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *binDir != "" {
		opts.Binaries = stack.BinariesIn(*binDir)
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		root, err := gobuild.RepoRoot(wd)
		if err != nil {
			return err
		}
		opts.RepoRoot = root
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "gatewarden", "stack-bin")
		fmt.Fprintf(stdout, "building authproxy, catalog, inventory, devidp into %s ...\n", dir)
		if opts.Binaries, err = stack.Build(ctx, root, dir); err != nil {
			return err
		}
	}

	fmt.Fprintln(stdout, "starting ...")
	s, err := stack.Start(ctx, opts)
	if err != nil {
		if errors.Is(err, stack.ErrPortInUse) {
			return fmt.Errorf("%w\n(stop what uses the port, or choose another with the -<part>-port flags; see -h)", err)
		}
		return err
	}
	printSummary(stdout, s)

	waitErr := s.Wait(ctx)
	if waitErr == nil {
		fmt.Fprintln(stdout, "\nstopping ...")
	}
	closeErr := s.Close()
	if waitErr == nil && closeErr == nil {
		fmt.Fprintln(stdout, "stopped")
	}
	return errors.Join(waitErr, closeErr)
}

func printSummary(w io.Writer, s *stack.Stack) {
	fmt.Fprintf(w, "\ngatewarden is running. Open %s/\n\n", s.GatewayURL)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  part\taddress")
	fmt.Fprintf(tw, "  gateway (%s)\t%s\n", s.Proxy, s.GatewayURL)
	fmt.Fprintf(tw, "  authproxy\t%s\n", s.AuthProxyURL)
	fmt.Fprintf(tw, "  catalog\t%s\n", s.CatalogURL)
	fmt.Fprintf(tw, "  inventory\t%s\n", s.InventoryURL)
	fmt.Fprintf(tw, "  dev IdP\t%s\n", s.DevIDPURL)
	fmt.Fprintf(tw, "  redis (%s)\t%s\n", s.RedisKind, s.RedisAddr)
	_ = tw.Flush()
	fmt.Fprintln(w, "\nDev users (log in by email):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, u := range stack.DevUsers() {
		roles := strings.Join(u.Roles, ",")
		if roles == "" {
			roles = "(not registered to the application)"
		}
		if len(u.Branches) > 0 {
			roles += " branches " + strings.Join(u.Branches, ",")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", u.Email, u.Password, u.Name, roles)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nTry: curl -i %s/products   |   Ctrl-C stops everything.\n\n", s.GatewayURL)
}
