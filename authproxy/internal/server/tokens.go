package server

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/token"
)

// anonymous is the subject of gateway tokens minted without a login.
const anonymous = token.Anonymous

// tokens mints gateway tokens and caches them per identity and audience.
type tokens struct {
	signer *token.Signer
	cache  *token.Cache
}

func newTokens(cfg *config.Config, now func() time.Time) (*tokens, error) {
	signer, err := token.NewSigner(token.SignerConfig{
		Alg:        cfg.SigningAlg,
		KeyPEMs:    cfg.SigningKeys,
		HMACSecret: []byte(cfg.HS256Secret.Reveal()),
		Dev:        cfg.DevMode,
		Issuer:     cfg.PublicURL,
		TTL:        cfg.TokenTTL,
		Now:        now,
	})
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return &tokens{signer: signer, cache: token.NewCache(cfg.TokenCacheEntries)}, nil
}

func (t *tokens) jwks() []byte { return t.signer.JWKS() }

// get returns a gateway token for p (nil = anonymous) and aud, from the
// cache when one for the same claims has enough life left.
// With a tracer, a "token.mint" span records whether the cache held it.
func (t *tokens) get(ctx context.Context, tracer trace.Tracer, p *principal, aud string, m *metrics) (string, error) {
	var span trace.Span
	if tracer != nil {
		_, span = tracer.Start(ctx, "token.mint")
		defer span.End()
	}
	claims := token.Claims{Subject: anonymous, Audience: aud}
	if p != nil {
		claims = token.Claims{Subject: p.userID, Audience: aud, Roles: p.roles, TenantID: p.tenantID, SessionID: p.sid, Branches: p.branches, OrigIssuedAt: p.origIAT}
	}
	tok, _, hit, err := t.signer.MintCached(t.cache, claims)
	if span != nil {
		endMintSpan(span, aud, hit, err)
	}
	if err != nil {
		return "", fmt.Errorf("tokens: mint: %w", err)
	}
	if hit {
		m.tokenHit.Inc()
	} else {
		m.tokenMiss.Inc()
	}
	return tok, nil
}
