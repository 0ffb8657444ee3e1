package server

import (
	"crypto/rand"
	"crypto/rsa"

	"github.com/golang-jwt/jwt/v5"

	"context"
	"errors"
	"time"

	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestRefreshAnswerForAnotherUser: when the IdP's refresh answer names
// another user, the session is not upgraded to that user: the request is
// refused and the session ends (its refresh token may be spent), so later
// requests do not keep calling the IdP.
func TestRefreshAnswerForAnotherUser(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	e, ps := newEnv(t, envOpts{now: clock.Now, idp: func(c *devidp.Config) { c.Now = clock.Now }})
	p := ps[0]
	customer, _ := loggedIn(t, p, "customer@example.com")
	admin, _ := loggedIn(t, p, "admin@example.com")
	adminRT := loadSession(t, p, admin).RefreshToken
	e.refreshAs.Store(&adminRT)
	clock.Advance(59 * time.Minute) // inside the refresh window
	resp, body := fwd{uri: "/admin/x", cookie: customer, accept: jsonAccept}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Authorization") != "" {
		t.Fatalf("refresh answered for admin: %d %s, want 401", resp.StatusCode, body)
	}
	if _, err := p.srv.fresh.Load(context.Background(), customer); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("session kept after a refresh for another user: %v", err)
	}
	if !strings.Contains(scrape(t, p), `authproxy_token_refreshes_total{outcome="rejected"} 1`) {
		t.Errorf("rejected refresh not counted")
	}
}

// TestExpiredAccessTokenWithoutRefreshToken: a session that cannot refresh
// (the IdP sent no refresh token) ends with its access token; it does not
// keep granting the roles of an expired token until the session lifetime.
func TestExpiredAccessTokenWithoutRefreshToken(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	_, ps := newEnv(t, envOpts{
		now: clock.Now, idp: func(c *devidp.Config) { c.Now = clock.Now },
		cfg: func(c *config.Config) { c.SessionIdleTimeout = 12 * time.Hour },
	})
	p := ps[0]
	admin, _ := loggedIn(t, p, "admin@example.com")
	s := loadSession(t, p, admin)
	s.RefreshToken = ""
	if err := p.srv.store.Save(context.Background(), admin, s); err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Minute) // in the window: nothing to refresh with, token still valid
	if resp, body := (fwd{uri: "/admin/x", cookie: admin}).send(t, p, dialectForwarded); resp.StatusCode != http.StatusOK {
		t.Fatalf("before expiry: %d %s", resp.StatusCode, body)
	}
	clock.Advance(2 * time.Minute)
	for _, uri := range []string{"/admin/x", "/branches/1/products"} {
		resp, body := fwd{uri: uri, cookie: admin, accept: jsonAccept}.send(t, p, dialectForwarded)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Authorization") != "" {
			t.Errorf("%s after expiry: %d %s, want 401", uri, resp.StatusCode, body)
		}
	}
	if resp, _ := (fwd{uri: "/products", cookie: admin}).send(t, p, dialectForwarded); resp.StatusCode != http.StatusOK {
		t.Errorf("public rule: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, p.url+"/oauth2/userinfo", nil)
	req.AddCookie(&http.Cookie{Name: "gw_session", Value: admin})
	if resp, body := send(t, req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo after expiry: %d %s, want 401", resp.StatusCode, body)
	}
}

// TestRefreshSignedWithUnknownKey: a refresh answer signed with a key the
// IdP's JWKS does not (yet) publish is a transient failure, not proof of a
// bad session: the still-valid token keeps being served and the session
// stays; once the token has expired, session rules answer 503. (The
// provider refetches the JWKS every 50ms rather than every 2s, so its
// retries of the unknown key end within the decision's refresh grace.)
func TestRefreshSignedWithUnknownKey(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	e, ps := newEnv(t, envOpts{
		now: clock.Now, idp: func(c *devidp.Config) { c.Now = clock.Now },
		oidc: func(c *oidc.Config) { c.JWKSRefetch = 50 * time.Millisecond },
	})
	p := ps[0]
	admin, _ := loggedIn(t, p, "admin@example.com")
	before := loadSession(t, p, admin)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	answer := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": e.idpURL, "aud": devidp.DefaultClientID, "sub": adminID, "applicationId": devidp.DefaultClientID,
			"roles": []string{"admin"}, "exp": clock.Now().Add(time.Hour).Unix(), "iat": clock.Now().Unix(),
		})
		tok.Header["kid"] = "rotated-key"
		s, _ := tok.SignedString(key)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": s, "token_type": "Bearer", "expires_in": 3600})
	})
	e.tokenAnswer.Store(&answer)
	clock.Advance(59 * time.Minute)
	resp, body := fwd{uri: "/branches/1/products", cookie: admin}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusOK || bearerOf(t, resp) != before.AccessToken {
		t.Fatalf("in window: %d %s, want 200 with the current token", resp.StatusCode, body)
	}
	if _, err := p.srv.fresh.Load(context.Background(), admin); err != nil {
		t.Fatalf("session ended on a transient key problem: %v", err)
	}
	clock.Advance(2 * time.Minute)
	if resp, body := (fwd{uri: "/admin/x", cookie: admin, accept: jsonAccept}).send(t, p, dialectForwarded); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("expired: %d %s, want 503", resp.StatusCode, body)
	}
}
