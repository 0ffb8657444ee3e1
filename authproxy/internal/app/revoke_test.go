package app

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/hack/testkit/devlogin"
)

// revokeEnv is two authproxy replicas on one Redis (cache TTL a minute, so
// only an invalidation makes a replica refuse at once) behind the public
// host gw.test, and the dev IdP sending its webhooks to replica A.
type revokeEnv struct {
	idp      *devidp.Server
	a, b     *httptest.Server
	redis    string
	replicas map[string]*httptest.Server
}

func newRevokeEnv(t *testing.T) *revokeEnv {
	t.Helper()
	rs := testkit.StartRedis(t)
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idp, idpURL := startIDP(t, "http://"+lnA.Addr().String()+webhook.Path)
	cfg := appConfig(t, rs.Addr(), time.Minute)
	cfg.FusionAuthURL, cfg.ClientID, cfg.ClientSecret = idpURL, idp.ClientID(), config.Secret(idp.ClientSecret())
	cfg.WebhookEnabled = true
	cfg.IdPLogoutAPI = true // the default: logout revokes the refresh token at the dev IdP
	e := &revokeEnv{idp: idp, a: serveAppOn(t, cfg, lnA), b: serveApp(t, cfg), redis: rs.Addr()}
	e.replicas = map[string]*httptest.Server{"A": e.a, "B": e.b}
	for name, r := range e.replicas {
		testkit.WaitUntil(t, "replica "+name+" ready", 10*time.Second, func(ctx context.Context) error {
			return testkit.HTTPOK(ctx, nil, r.URL+"/readyz")
		})
	}
	return e
}

// browser is a cookie-keeping client for which gw.test is replica A.
func (e *revokeEnv) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := e.a.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
		if hostport == "gw.test:80" {
			hostport = addr
		}
		var d net.Dialer
		return d.DialContext(ctx, network, hostport)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second}
}

// login signs email in through replica A and the dev IdP's form, as a
// browser does, and returns the browser and its session cookie.
func (e *revokeEnv) login(t *testing.T, email string) (*http.Client, string) {
	t.Helper()
	b := e.browser(t)
	if _, _, err := devlogin.Login(t.Context(), b, "http://gw.test/oauth2/start?rd=%2F", email); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://gw.test/")
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == cookieName {
			return b, c.Value
		}
	}
	t.Fatalf("no session cookie after %s logged in", email)
	return nil, ""
}

func (e *revokeEnv) decide(t *testing.T, r *httptest.Server, cookie string) int {
	t.Helper()
	code, err := status(t, r.Client(), authz(t, r, "forwarded", "/admin/x", cookie))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestRevocationEndsExactlyTheRightSessions (issue 10): an admin logged in
// in two browsers and another admin in a third, each session used on both
// replicas; then one revocation. Both replicas must come to refuse exactly
// the sessions it ends (waited for, the window logged, not asserted) and
// keep serving the others.
func TestRevocationEndsExactlyTheRightSessions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// act revokes; b1 is browser 1, c1 its cookie.
		act func(t *testing.T, e *revokeEnv, b1 *http.Client, c1 string) error
		// survivor: browser 2 keeps its session.
		survivor bool
		// everyone: the other user's session ends too.
		everyone bool
	}{
		{name: "all of the application's tokens revoked", everyone: true, act: func(t *testing.T, e *revokeEnv, _ *http.Client, _ string) error {
			_, err := e.idp.RevokeApplicationTokens(t.Context())
			return err
		}},
		{name: "one refresh token revoked", survivor: true, act: func(t *testing.T, e *revokeEnv, _ *http.Client, c1 string) error {
			return e.idp.RevokeRefreshToken(t.Context(), sessionOf(t, e.redis, c1).RefreshToken)
		}},
		{name: "admin role removed", act: func(t *testing.T, e *revokeEnv, _ *http.Client, _ string) error {
			return e.idp.SetRoles(t.Context(), adminID, []string{"customer"})
		}},
		{name: "log out everywhere", act: func(t *testing.T, _ *revokeEnv, b1 *http.Client, _ string) error {
			return logoutVia(t, b1, "/oauth2/logout/everywhere")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newRevokeEnv(t)
			b1, c1 := e.login(t, "admin@example.com")
			_, c2 := e.login(t, "admin@example.com")
			_, other := e.login(t, "manager@example.com")
			for rn, r := range e.replicas {
				for cn, c := range map[string]string{"browser 1": c1, "browser 2": c2} {
					if code := e.decide(t, r, c); code != http.StatusOK {
						t.Fatalf("before: replica %s, %s: %d, want 200", rn, cn, code)
					}
				}
				e.decide(t, r, other) // cached on both replicas too
			}
			otherBefore := e.decide(t, e.a, other)
			ended := []string{c1, c2}
			if tt.survivor {
				ended = []string{c1}
			}
			if tt.everyone {
				ended = append(ended, other)
			}
			start := time.Now()
			if err := tt.act(t, e, b1, c1); err != nil {
				t.Fatalf("revocation: %v", err)
			}
			acted := time.Since(start)
			testkit.WaitFor(t, "both replicas refuse the ended sessions", func() bool {
				for _, r := range e.replicas {
					for _, c := range ended {
						if e.decide(t, r, c) != http.StatusUnauthorized {
							return false
						}
					}
				}
				return true
			})
			t.Logf("revocation window: the action returned after %v, every replica refused every ended session after %v", acted, time.Since(start))
			for rn, r := range e.replicas {
				if tt.survivor {
					if code := e.decide(t, r, c2); code != http.StatusOK {
						t.Errorf("browser 2 on replica %s: %d, want 200 (its token was not revoked)", rn, code)
					}
				}
				if code := e.decide(t, r, other); !tt.everyone && code != otherBefore {
					t.Errorf("another user's session on replica %s: %d, want %d (untouched)", rn, code, otherBefore)
				}
			}
		})
	}
}

// logoutVia posts to a logout path (/oauth2/logout or
// /oauth2/logout/everywhere) of gw.test in browser b, as the gateway's page
// does, and expects its 303.
func logoutVia(t *testing.T, b *http.Client, path string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://gw.test"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Origin", "http://gw.test")
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := b.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("POST %s: %d, want 303", path, resp.StatusCode)
	}
	return nil
}

// sessionOf reads a session straight from Redis (the test holds its cookie).
func sessionOf(t *testing.T, addr, cookie string) *session.Session {
	t.Helper()
	s, err := redisStore(t, addr).Load(t.Context(), cookie)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
