// Command zitadel-op runs zitadel/oidc's example OpenID provider
// (github.com/zitadel/oidc/v3/example/server) on 127.0.0.1 with one web
// client registered the way the library's users register theirs: a client
// id and secret, redirect and post-logout redirect URIs, and JWT or opaque
// (Bearer) access tokens. Its users are the example's own
// (test-user@<host> / verysecure). It is an independent provider for
// authproxy's interoperability tests (hack/idps).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "zitadel-op:", err)
		os.Exit(1)
	}
}

type options struct {
	addr, clientID, clientSecret, redirectURI, postLogoutURI, accessToken string
}

func run(args []string) error {
	fs := flag.NewFlagSet("zitadel-op", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9998", "listen address (the issuer is http://<addr>/)")
	fs.StringVar(&o.clientID, "client-id", "gatewarden", "client id")
	fs.StringVar(&o.clientSecret, "client-secret", "", "client secret (required)")
	fs.StringVar(&o.redirectURI, "redirect-uri", "", "the client's redirect URI (required)")
	fs.StringVar(&o.postLogoutURI, "post-logout-redirect-uri", "", "the client's post-logout redirect URI")
	fs.StringVar(&o.accessToken, "access-token", "jwt", "access token type: jwt or opaque")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.clientSecret == "" || o.redirectURI == "" {
		return errors.New("-client-secret and -redirect-uri are required")
	}
	tokenType := op.AccessTokenTypeJWT
	switch o.accessToken {
	case "jwt":
	case "opaque":
		tokenType = op.AccessTokenTypeBearer
	default:
		return fmt.Errorf("-access-token %q: want jwt or opaque", o.accessToken)
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: listen on a loopback address only", o.addr)
	}
	issuer := "http://" + o.addr + "/"
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	web := storage.WebClient(o.clientID, o.clientSecret, o.redirectURI)
	store := &clientStore{
		Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer), map[string]*storage.Client{o.clientID: web}),
		id:      o.clientID,
		client:  &client{Client: web, tokenType: tokenType, postLogout: nonEmpty(o.postLogoutURI)},
	}
	router := exampleop.SetupServer(issuer, store, logger, false)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", slog.String("issuer", issuer), slog.String("access_token", o.accessToken))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// clientStore is the example storage with our client's settings: the
// example's Client keeps its access-token type and post-logout URIs
// unexported, so the registered client is wrapped, as an application
// backing the library with its own client records would do.
type clientStore struct {
	*storage.Storage
	id     string
	client op.Client
}

func (s *clientStore) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	if id == s.id {
		return s.client, nil
	}
	return s.Storage.GetClientByClientID(ctx, id)
}

type client struct {
	*storage.Client
	tokenType  op.AccessTokenType
	postLogout []string
}

func (c *client) AccessTokenType() op.AccessTokenType { return c.tokenType }
func (c *client) PostLogoutRedirectURIs() []string    { return c.postLogout }
