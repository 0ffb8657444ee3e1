package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/server"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// TestRevocationEndToEnd (issue 10's end-to-end test): two authproxy
// replicas on one redis-server, the dev IdP sending its webhooks to replica
// A, and catalog and inventory as jwtauth verifiers following replica B's
// revocation feed every second. The admin logs in in two browsers; each
// browser's gateway token (catalog) and FusionAuth access token (inventory)
// are captured. Then one of: the IdP revokes all of the user's refresh
// tokens, deactivates or deletes the user, or removes its admin role (each
// a signed webhook); the user logs out everywhere; the operator revokes all
// of the user's sessions (what `authproxy sessions revoke --all` does: the
// store's DeleteUserSessions, then the Invalidator's User; package admin
// imports this one, so its command cannot run here). Both replicas must
// come to refuse both cookies and both services all four tokens. The
// windows, from the start of the action, are logged, never asserted.
func TestRevocationEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		act  func(t *testing.T, e *revokeEnv, b1 *http.Client) error
	}{
		{name: "IdP revokes all tokens", act: func(t *testing.T, e *revokeEnv, _ *http.Client) error {
			_, err := e.idp.RevokeUserTokens(t.Context(), adminID)
			return err
		}},
		{name: "user deactivated", act: func(t *testing.T, e *revokeEnv, _ *http.Client) error {
			return e.idp.DeactivateUser(t.Context(), adminID)
		}},
		{name: "user deleted", act: func(t *testing.T, e *revokeEnv, _ *http.Client) error {
			return e.idp.DeleteUser(t.Context(), adminID)
		}},
		{name: "admin role removed", act: func(t *testing.T, e *revokeEnv, _ *http.Client) error {
			return e.idp.SetRoles(t.Context(), adminID, []string{"customer"})
		}},
		{name: "log out everywhere", act: func(t *testing.T, _ *revokeEnv, b1 *http.Client) error {
			return logoutVia(t, b1, "/oauth2/logout/everywhere")
		}},
		{name: "operator revokes all", act: func(t *testing.T, e *revokeEnv, _ *http.Client) error {
			rdb := session.NewRedisClient(session.Options{Addrs: []string{e.redis}})
			defer func() { _ = rdb.Close() }()
			if _, err := redisStore(t, e.redis).DeleteUserSessions(t.Context(), adminID); err != nil {
				return err
			}
			return session.NewInvalidator(rdb, "").User(t.Context(), adminID)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newRevokeEnv(t)
			b1, c1 := e.login(t, "admin@example.com")
			_, c2 := e.login(t, "admin@example.com")
			catalog, inventory := e.services(t)
			type captured struct {
				srv   *httptest.Server
				token string
			}
			tokens := map[string]captured{}
			for bn, c := range map[string]string{"browser 1": c1, "browser 2": c2} {
				tokens[bn+" gateway token at catalog"] = captured{catalog, bearer(t, authz(t, e.a, "forwarded", "/products/1", c))}
				tokens[bn+" access token at inventory"] = captured{inventory, bearer(t, authz(t, e.a, "forwarded", "/branches/1/products", c))}
				for rn, r := range e.replicas {
					if code := e.decide(t, r, c); code != http.StatusOK {
						t.Fatalf("before: replica %s, %s: %d, want 200", rn, bn, code)
					}
				}
			}
			for name, c := range tokens {
				if code := call(t, c.srv, c.token); code != http.StatusOK {
					t.Fatalf("before: %s answered %d, want 200", name, code)
				}
			}
			start := time.Now()
			if err := tt.act(t, e, b1); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			acted := time.Since(start)
			var cookiesRefused time.Duration
			refused := map[string]time.Duration{}
			testkit.WaitFor(t, "both replicas refuse both cookies, both services every token", func() bool {
				if cookiesRefused == 0 && e.refuseAll(t, c1, c2) {
					cookiesRefused = time.Since(start)
				}
				for name, c := range tokens {
					if _, done := refused[name]; !done && call(t, c.srv, c.token) == http.StatusUnauthorized {
						refused[name] = time.Since(start)
					}
				}
				return cookiesRefused != 0 && len(refused) == len(tokens)
			})
			t.Logf("revocation windows after %s (action returned after %v): cookies refused on both replicas after %v; tokens refused after %v (feed polled every 1s)",
				tt.name, acted.Round(time.Millisecond), cookiesRefused.Round(time.Millisecond), roundAll(refused))
		})
	}
}

// TestLogoutRevokesRefreshTokenAtIdP: a logout revokes its session's
// refresh token at the dev IdP through FusionAuth's Logout API (the dev IdP
// announces no revocation_endpoint), so a refresh with a copy of it is
// invalid_grant refresh_token_not_found; the refresh token of the user's
// other browser, not logged out, still works.
func TestLogoutRevokesRefreshTokenAtIdP(t *testing.T) {
	t.Parallel()
	e := newRevokeEnv(t)
	b1, c1 := e.login(t, "admin@example.com")
	_, c2 := e.login(t, "admin@example.com")
	stolen, other := sessionOf(t, e.redis, c1).RefreshToken, sessionOf(t, e.redis, c2).RefreshToken
	if stolen == "" || other == "" {
		t.Fatal("sessions without a refresh token")
	}
	if err := logoutVia(t, b1, "/oauth2/logout"); err != nil {
		t.Fatal(err)
	}
	if code, reason := e.refresh(t, stolen); code != http.StatusBadRequest || reason != "refresh_token_not_found" {
		t.Errorf("refresh with the logged-out session's token: %d %q, want 400 refresh_token_not_found", code, reason)
	}
	if code, reason := e.refresh(t, other); code != http.StatusOK {
		t.Errorf("refresh with the other browser's token: %d %q, want 200", code, reason)
	}
}

// services are catalog (gateway tokens of replica A's public URL) and
// inventory (the IdP's access tokens), each a jwtauth verifier following
// replica B's revocation feed every second, as --revocation-feed does.
func (e *revokeEnv) services(t *testing.T) (catalog, inventory *httptest.Server) {
	t.Helper()
	feed := &jwtauth.RevocationConfig{URL: e.b.URL + server.FeedPath, Interval: time.Second}
	catalog = service(t, jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: "http://gw.test", JWKSURL: e.a.URL + "/.well-known/jwks.json"}},
		Audience: "catalog", Revocations: feed,
	})
	inventory = service(t, jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: e.idp.Issuer(), JWKSURL: e.idp.Issuer() + "/.well-known/jwks.json"}},
		Audience: e.idp.ClientID(), Revocations: feed,
	})
	return catalog, inventory
}

// refuseAll says whether both replicas refuse every cookie.
func (e *revokeEnv) refuseAll(t *testing.T, cookies ...string) bool {
	t.Helper()
	for _, r := range e.replicas {
		for _, c := range cookies {
			if e.decide(t, r, c) != http.StatusUnauthorized {
				return false
			}
		}
	}
	return true
}

// refresh redeems a refresh token at the dev IdP as the client and returns
// the status and the error_reason (FusionAuth's) of a refusal.
func (e *revokeEnv) refresh(t *testing.T, token string) (int, string) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.idp.Issuer()+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.idp.ClientID(), e.idp.ClientSecret())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Reason string `json:"error_reason"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Reason
}

// roundAll rounds the windows to the millisecond for the log.
func roundAll(m map[string]time.Duration) map[string]time.Duration {
	out := make(map[string]time.Duration, len(m))
	for k, v := range m {
		out[k] = v.Round(time.Millisecond)
	}
	return out
}
