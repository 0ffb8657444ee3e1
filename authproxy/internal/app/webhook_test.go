package app

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/backchannel"
	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestWebhookEndsSessionsOnEveryReplica (issue 10): two authproxy replicas
// share one Redis; a user has two sessions ("two browsers"), each used on
// both replicas, so both replicas' caches hold both. The dev IdP, acting as
// FusionAuth, revokes the user's tokens (or deactivates or deletes the user) and
// sends its signed webhook to replica A only; both replicas then refuse
// both cookies. The cache TTL is a minute, so only the invalidation can
// make replica B refuse within the wait. The window from the admin action
// to the last refusal is logged, not asserted.
func TestWebhookEndsSessionsOnEveryReplica(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		userID string
		act    func(ctx context.Context, idp *devidp.Server, userID string) error
	}{
		{name: "refresh tokens revoked", userID: adminID, act: func(ctx context.Context, idp *devidp.Server, userID string) error {
			_, err := idp.RevokeUserTokens(ctx, userID)
			return err
		}},
		{name: "user deactivated", userID: "7c1b9e2d-8f3a-4e5b-a6c7-d8e9f0a1b2c3", act: func(ctx context.Context, idp *devidp.Server, userID string) error {
			return idp.DeactivateUser(ctx, userID)
		}},
		{name: "user deleted", userID: "4e8d2a1f-3b6c-4d7e-8f90-a1b2c3d4e5f6", act: func(ctx context.Context, idp *devidp.Server, userID string) error {
			return idp.DeleteUser(ctx, userID)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newRevokeEnv(t)
			idp, replicas := e.idp, e.replicas
			cookies := map[string]string{"browser 1": userSession(t, e.redis, tt.userID), "browser 2": userSession(t, e.redis, tt.userID)}
			other := userSession(t, e.redis, "9b3c5d7e-1f2a-4b4c-8d6e-f0a1b2c3d4e5")
			decide := func(r *httptest.Server, cookie string) int {
				code, err := status(t, r.Client(), authz(t, r, "forwarded", "/admin/x", cookie))
				if err != nil {
					t.Fatal(err)
				}
				return code
			}
			for rn, r := range replicas {
				for cn, c := range cookies {
					if code := decide(r, c); code != http.StatusOK {
						t.Fatalf("before: replica %s, %s: %d, want 200", rn, cn, code)
					}
				}
			}
			start := time.Now()
			if err := tt.act(t.Context(), idp, tt.userID); err != nil {
				t.Fatalf("webhook delivery: %v", err)
			}
			delivered := time.Since(start)
			testkit.WaitFor(t, "both replicas refuse both cookies", func() bool {
				for _, r := range replicas {
					for _, c := range cookies {
						if decide(r, c) != http.StatusUnauthorized {
							return false
						}
					}
				}
				return true
			})
			t.Logf("revocation window: webhook answered after %v, every replica refused every cookie after %v", delivered, time.Since(start))
			for rn, r := range replicas {
				if code := decide(r, other); code != http.StatusOK {
					t.Errorf("another user's session on replica %s: %d, want 200 (untouched)", rn, code)
				}
			}
		})
	}
}

// startIDP runs the dev IdP on 127.0.0.1, sending its webhooks to hookURL;
// it accepts the callbacks in redirects (none: http://gw.test's).
func startIDP(t *testing.T, hookURL string, redirects ...string) (*devidp.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	idp, err := devidp.New(devidp.Config{Issuer: base, RedirectURIs: append([]string{"http://gw.test/oauth2/callback"}, redirects...), WebhookURL: hookURL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(idp.Handler())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return idp, base
}

// serveAppOn is serveApp on a listener chosen beforehand (the IdP must know
// the webhook URL before the App exists).
func serveAppOn(t *testing.T, cfg *config.Config, ln net.Listener) *httptest.Server {
	t.Helper()
	a, err := New(Deps{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestWebhookOffByDefault: without --webhook-enabled nothing is served at
// the webhook's path, signed or not.
func TestWebhookOffByDefault(t *testing.T) {
	t.Parallel()
	rs := testkit.StartRedis(t)
	srv := serveApp(t, appConfig(t, rs.Addr(), 0))
	req, err := http.NewRequest(http.MethodPost, srv.URL+webhook.Path, strings.NewReader(`{"event":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if code, err := status(t, srv.Client(), req); err != nil || code != http.StatusNotFound {
		t.Fatalf("POST %s with the webhook off: %d %v, want 404", webhook.Path, code, err)
	}
}

// TestWebhookListenSeparates: with --webhook-listen the webhook and the
// back-channel logout are served by the IdP handler only (an unsigned
// request there is refused by the endpoint itself, 401 and 400), and the
// main handler answers 404 for both paths.
func TestWebhookListenSeparates(t *testing.T) {
	t.Parallel()
	rs := testkit.StartRedis(t)
	cfg := appConfig(t, rs.Addr(), 0)
	cfg.WebhookEnabled, cfg.BackChannelLogoutEnabled, cfg.WebhookListen = true, true, "127.0.0.1:0"
	a, err := New(Deps{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	idpHandler := a.IdPHandler()
	if idpHandler == nil {
		t.Fatal("no IdP handler with --webhook-listen")
	}
	tests := []struct {
		name  string
		h     http.Handler
		path  string
		ctype string
		want  int
	}{
		{name: "webhook on the IdP listener", h: idpHandler, path: webhook.Path, ctype: "application/json", want: http.StatusUnauthorized},
		{name: "back-channel logout on the IdP listener", h: idpHandler, path: backchannel.Path, ctype: "application/x-www-form-urlencoded", want: http.StatusBadRequest},
		{name: "webhook not on the main listener", h: a.Handler(), path: webhook.Path, ctype: "application/json", want: http.StatusNotFound},
		{name: "back-channel logout not on the main listener", h: a.Handler(), path: backchannel.Path, ctype: "application/x-www-form-urlencoded", want: http.StatusNotFound},
		{name: "nothing else on the IdP listener", h: idpHandler, path: "/oauth2/start", want: http.StatusNotFound},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader("{}"))
		r.Header.Set("Content-Type", tt.ctype)
		w := httptest.NewRecorder()
		tt.h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, w.Code, tt.want)
		}
	}
	cfg2 := appConfig(t, rs.Addr(), 0)
	cfg2.WebhookEnabled = true
	b, err := New(Deps{Config: cfg2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if b.IdPHandler() != nil {
		t.Errorf("an IdP handler without --webhook-listen")
	}
}
