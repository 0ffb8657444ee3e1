package app

import (
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/backchannel"
	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/cutoff"
	"github.com/gatewarden/gatewarden/authproxy/internal/links"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/server"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
)

// revocation is what ends sessions on the identity provider's word: the
// webhook and back-channel logout handlers (nil when not enabled) and the
// links from refresh tokens and provider sessions to sessions (nil when
// neither is enabled: nothing would read them).
type revocation struct {
	webhook     http.Handler
	backChannel http.Handler
	links       server.Links
}

// newRevocation builds them. Events end sessions through links.Ender:
// fresh's DeleteUserSessions or, for one linked session, DeleteSession,
// then an invalidation on the cache channel that every replica hears; event
// ids and logout-token jtis are remembered in Redis; signatures are
// verified with the provider's published keys or, for the webhook when an
// HMAC key is set, with that key only; a public-key update refetches the
// provider's keys; a revocation of all of the application's refresh tokens
// records the cutoff in cutoffs.
func newRevocation(cfg *config.Config, fresh *session.RedisStore, cutoffs *cutoff.Cutoffs, rdb redis.UniversalClient, provider *oidc.Provider, log *slog.Logger) (revocation, error) {
	var rv revocation
	if !cfg.WebhookEnabled && !cfg.BackChannelLogoutEnabled {
		return rv, nil
	}
	idx, err := links.New(rdb, "", cfg.SessionLifetime)
	if err != nil {
		return rv, err
	}
	rv.links = idx
	ender := links.Ender{Index: idx, Store: fresh, Replica: session.NewInvalidator(rdb, ""), Users: fresh, Revoker: fresh}
	marks := session.NewEventMarks(rdb, "")
	if cfg.WebhookEnabled {
		h, err := webhook.New(webhook.Config{
			Sessions: ender, Marks: marks, Keys: provider, Refresher: provider, Tokens: ender, Revoker: fresh, Application: cutoffs,
			HMACKey: []byte(cfg.WebhookHMACKey.Reveal()), ClientID: cfg.ClientID, TenantID: cfg.WebhookTenantID,
			Logger: log,
		})
		if err != nil {
			return rv, err
		}
		rv.webhook = h
	}
	if cfg.BackChannelLogoutEnabled {
		h, err := backchannel.New(backchannel.Config{
			Keys: provider, Sessions: ender, Linked: ender, Marks: marks, ClientID: cfg.ClientID, Logger: log,
		})
		if err != nil {
			return rv, err
		}
		rv.backChannel = h
	}
	return rv, nil
}
