package server

import (
	"context"
	"log/slog"

	"github.com/gatewarden/gatewarden/authproxy/internal/links"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// Links records which session holds a refresh token and the provider's
// session id, so that a revocation naming either (a single-token webhook
// event, a back-channel logout) ends exactly that session; *links.Index
// implements it.
type Links interface {
	Link(ctx context.Context, kind links.Kind, value string, t links.Target) error
}

// linker links the tokens a login or refresh gave a session. A failed link
// is logged and the login or refresh still succeeds: the session can then
// still be ended with all of its user's, not alone.
type linker struct {
	links Links // nil = links not kept
	log   *slog.Logger
}

func (l linker) link(ctx context.Context, cookie, userID string, toks *oidc.Tokens) {
	if l.links == nil || toks == nil {
		return
	}
	t := links.Target{UserID: userID, Session: session.Tag(cookie)}
	for kind, v := range map[links.Kind]string{links.RefreshToken: toks.RefreshToken, links.ProviderSession: toks.ProviderSession} {
		if err := l.links.Link(ctx, kind, v, t); err != nil {
			l.log.WarnContext(ctx, "session link failed", slog.String("kind", string(kind)), slog.String(keyError, err.Error()))
		}
	}
}
