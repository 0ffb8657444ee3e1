package oidc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// TestRefreshKeys: a key published after the on-demand refetch was spent
// (rate limit of an hour) stays unknown until RefreshKeys, which fetches
// past the limit; before discovery it is ErrNotReady.
func TestRefreshKeys(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	ctx := context.Background()
	bare, err := New(ctx, Config{URL: op.srv.URL, ClientID: fakeClient, RedirectURL: "http://127.0.0.1/cb"})
	if err != nil {
		t.Fatal(err)
	}
	if err := bare.RefreshKeys(ctx); !errors.Is(err, ErrNotReady) {
		t.Fatalf("RefreshKeys before discovery: %v, want ErrNotReady", err)
	}
	p := op.provider(t, func(c *Config) { c.JWKSRefetch = time.Hour })
	// Spend the on-demand refetch.
	if _, err := p.SigningKey(ctx, "nope", "RS256"); !errors.Is(err, jwtauth.ErrUnknownKey) {
		t.Fatalf("SigningKey(nope): %v, want ErrUnknownKey", err)
	}
	op.rotate(jwt.SigningMethodRS256, "k2", true)
	if _, err := p.SigningKey(ctx, "k2", "RS256"); !errors.Is(err, jwtauth.ErrUnknownKey) {
		t.Fatalf("SigningKey(k2) within the rate limit: %v, want ErrUnknownKey", err)
	}
	if err := p.RefreshKeys(ctx); err != nil {
		t.Fatalf("RefreshKeys: %v", err)
	}
	if _, err := p.SigningKey(ctx, "k2", "RS256"); err != nil {
		t.Fatalf("SigningKey(k2) after RefreshKeys: %v", err)
	}
}
