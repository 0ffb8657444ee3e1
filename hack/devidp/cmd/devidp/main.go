// Command devidp runs the development identity provider, a FusionAuth stand-in for the local stack
// and tests (see package hack/devidp). Development only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devidp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9011", "address to listen on")
	issuer := fs.String("issuer", "", "issuer URL and base of every endpoint (default http://<listen>)")
	usersFile := fs.String("users", "", "users YAML file (default: the embedded development users)")
	clientID := fs.String("client-id", devidp.DefaultClientID, "application id / client_id")
	clientSecret := fs.String("client-secret", devidp.DefaultClientSecret, "client secret")
	redirectURIs := fs.String("redirect-uris", "http://localhost:8000/oauth2/callback,http://localhost:4180/oauth2/callback,http://127.0.0.1:4180/oauth2/callback", "authorized redirect URLs (comma list, exact match)")
	logoutURIs := fs.String("logout-uris", "http://localhost:8000/,http://localhost:4180/,http://127.0.0.1:4180/", "authorized post-logout URLs (comma list; the first is the default)")
	accessTTL := fs.Duration("access-token-ttl", devidp.DefaultAccessTokenTTL, "access and id token lifetime")
	rotate := fs.Bool("rotate-refresh-tokens", false, `rotate refresh tokens on use (FusionAuth "OneTimeUse")`)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("devidp: unexpected arguments: %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("devidp: --log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: level}))

	cfg := devidp.Config{
		Issuer:              *issuer,
		ClientID:            *clientID,
		ClientSecret:        *clientSecret,
		RedirectURIs:        splitList(*redirectURIs),
		LogoutURIs:          splitList(*logoutURIs),
		AccessTokenTTL:      *accessTTL,
		RotateRefreshTokens: *rotate,
		Logger:              logger,
	}
	if cfg.Issuer == "" {
		cfg.Issuer = defaultIssuer(*listen)
	}
	if *usersFile != "" {
		users, err := devidp.LoadUsers(*usersFile)
		if err != nil {
			return err
		}
		cfg.Users = users
	}
	srv, err := devidp.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("devidp: listen on %s: %w", *listen, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := httpkit.NewServer(srv.Handler(), logger)
	logger.Info("devidp listening", slog.String("addr", ln.Addr().String()), slog.Any("config", srv.Config()))
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

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// defaultIssuer is http://<listen>, with localhost for an empty or wildcard host.
func defaultIssuer(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
