package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lifetime time.Duration
		idle     time.Duration
		steps    []time.Duration // clock advances, each followed by a request
		want     []int           // status after each step
	}{
		{
			name: "idle timeout", lifetime: 12 * time.Hour, idle: time.Hour,
			steps: []time.Duration{50 * time.Minute, 50 * time.Minute, 61 * time.Minute},
			want:  []int{200, 200, 401},
		},
		{
			name: "absolute lifetime despite activity", lifetime: 2 * time.Hour, idle: time.Hour,
			steps: []time.Duration{50 * time.Minute, 50 * time.Minute, 19 * time.Minute, 2 * time.Minute},
			want:  []int{200, 200, 200, 401},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := testkit.NewClock(time.Now())
			_, ps := newEnv(t, envOpts{
				now: clock.Now,
				idp: func(c *devidp.Config) { c.Now = clock.Now },
				cfg: func(c *config.Config) {
					c.SessionLifetime, c.SessionIdleTimeout = tt.lifetime, tt.idle
					c.SessionCacheTTL = 0
				},
			})
			p := ps[0]
			cookie, _ := loggedIn(t, p, "customer@example.com")
			for i, step := range tt.steps {
				clock.Advance(step)
				resp, body := fwd{uri: "/account/me", cookie: cookie, accept: jsonAccept}.send(t, p, dialectForwarded)
				if resp.StatusCode != tt.want[i] {
					t.Fatalf("step %d (+%s): %d %s, want %d", i, step, resp.StatusCode, body, tt.want[i])
				}
			}
			if _, err := p.srv.fresh.Load(context.Background(), cookie); err == nil {
				t.Errorf("expired session still stored")
			}
		})
	}
}

// TestRefreshTwoInstances: two authproxy instances sharing Redis get a burst
// of requests for a session whose access token is about to expire; the IdP
// sees exactly one refresh, every request gets the same new token, and the
// rotated refresh token is stored.
func TestRefreshTwoInstances(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	e, ps := newEnv(t, envOpts{
		proxies: 2, now: clock.Now,
		idp: func(c *devidp.Config) { c.Now = clock.Now; c.RotateRefreshTokens = true },
	})
	cookie, _ := loggedIn(t, ps[0], "manager@example.com")
	before := loadSession(t, ps[0], cookie)
	if n := e.idp.TokenRequests("refresh_token"); n != 0 {
		t.Fatalf("refreshes before the window: %d", n)
	}
	// Outside the window: no refresh.
	clock.Advance(50 * time.Minute)
	if resp, _ := (fwd{uri: "/branches/1/products", cookie: cookie}).send(t, ps[0], dialectForwarded); bearerOf(t, resp) != before.AccessToken {
		t.Fatalf("token changed outside the refresh window")
	}
	// Inside the window (1 h token, 2 m window).
	clock.Advance(9 * time.Minute)

	const perInstance = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	tokens := make(chan string, 2*perInstance)
	for _, p := range ps {
		for range perInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req := fwd{uri: "/branches/1/products", cookie: cookie}.request(t, p, dialectForwarded)
				resp, err := plainClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
					return
				}
				tokens <- strings.TrimPrefix(resp.Header.Get("Authorization"), "Bearer ")
			}()
		}
	}
	close(start)
	wg.Wait()
	close(tokens)
	seen := map[string]int{}
	for tok := range tokens {
		seen[tok]++
	}
	if len(seen) != 1 {
		t.Fatalf("requests got %d different tokens, want 1", len(seen))
	}
	if n := e.idp.TokenRequests("refresh_token"); n != 1 {
		t.Fatalf("IdP saw %d refreshes, want exactly 1", n)
	}
	after := loadSession(t, ps[0], cookie)
	for tok := range seen {
		if tok == before.AccessToken || tok != after.AccessToken {
			t.Errorf("forwarded token is not the refreshed one")
		}
	}
	if after.RefreshToken == before.RefreshToken || after.RefreshToken == "" {
		t.Errorf("rotated refresh token not stored")
	}
	if !after.AccessExpiry.After(before.AccessExpiry) || !after.CreatedAt.Equal(before.CreatedAt) {
		t.Errorf("session after refresh: expiry %v (was %v), created %v (was %v)", after.AccessExpiry, before.AccessExpiry, after.CreatedAt, before.CreatedAt)
	}
	// Still one refresh later on (the new token is far from expiry).
	if resp, _ := (fwd{uri: "/branches/1/products", cookie: cookie}).send(t, ps[1], dialectForwarded); resp.StatusCode != 200 {
		t.Fatalf("after refresh: %d", resp.StatusCode)
	}
	if n := e.idp.TokenRequests("refresh_token"); n != 1 {
		t.Fatalf("IdP saw %d refreshes, want 1", n)
	}
}

// TestRevokedRefreshTokenEndsSession: invalid_grant at refresh deletes the
// session; the user is logged out (public rules still pass, anonymously).
func TestRevokedRefreshTokenEndsSession(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	e, ps := newEnv(t, envOpts{now: clock.Now, idp: func(c *devidp.Config) { c.Now = clock.Now }})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "customer@example.com")
	if n := e.idp.RevokeRefreshTokens(customerID); n != 1 {
		t.Fatalf("revoked %d refresh tokens", n)
	}
	// Before the window the session works on its access token.
	if resp, _ := (fwd{uri: "/account/me", cookie: cookie}).send(t, p, dialectForwarded); resp.StatusCode != 200 {
		t.Fatalf("before the window: %d", resp.StatusCode)
	}
	clock.Advance(59 * time.Minute)
	resp, body := fwd{uri: "/account/me", cookie: cookie, accept: jsonAccept}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after revoked refresh: %d %s", resp.StatusCode, body)
	}
	if _, err := p.srv.fresh.Load(context.Background(), cookie); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("session still stored: %v", err)
	}
	if resp, _ := (fwd{uri: "/products", cookie: cookie}).send(t, p, dialectForwarded); resp.StatusCode != 200 {
		t.Fatalf("public rule: %d", resp.StatusCode)
	}
	if !strings.Contains(scrape(t, p), `authproxy_token_refreshes_total{outcome="invalid_grant"} 1`) {
		t.Errorf("invalid_grant refresh not counted")
	}
}

// TestRefreshWhileIdPDown: a failed refresh keeps serving the still-valid
// access token; once it has expired, session rules answer 503 (never a
// stale allow); when the IdP returns, the next request refreshes.
func TestRefreshWhileIdPDown(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	e, ps := newEnv(t, envOpts{now: clock.Now, idp: func(c *devidp.Config) { c.Now = clock.Now }})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	before := loadSession(t, p, cookie)
	e.tokenDown.Store(true)
	clock.Advance(59 * time.Minute) // in the window, token still valid
	resp, body := fwd{uri: "/branches/1/products", cookie: cookie}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusOK || bearerOf(t, resp) != before.AccessToken {
		t.Fatalf("in window, IdP down: %d %s, want 200 with the current token", resp.StatusCode, body)
	}
	clock.Advance(2 * time.Minute) // token expired
	resp, body = fwd{uri: "/admin/x", cookie: cookie, accept: jsonAccept}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Authorization") != "" {
		t.Fatalf("expired token, IdP down: %d %s, want 503", resp.StatusCode, body)
	}
	if !strings.Contains(scrape(t, p), `authproxy_token_refreshes_total{outcome="error"} 2`) {
		t.Errorf("failed refreshes not counted")
	}
	e.tokenDown.Store(false)
	resp, body = fwd{uri: "/branches/1/products", cookie: cookie}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusOK || bearerOf(t, resp) == before.AccessToken {
		t.Fatalf("IdP back: %d %s, want 200 with a new token", resp.StatusCode, body)
	}
}

// TestRedisOutage: with the session store down (as with Redis stopped),
// session rules fail closed (503), public rules pass anonymously, readiness
// fails; all recover by themselves. (How a stopped or paused redis-server
// becomes a prompt "store down" is tested in package app, and how the
// session cache behaves meanwhile in package session.)
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	if resp, _ := (fwd{uri: "/admin/x", cookie: cookie}).send(t, p, dialectForwarded); resp.StatusCode != 200 {
		t.Fatalf("before outage: %d", resp.StatusCode)
	}
	e.store.SetDown(true)
	gw := gatewayVerifier(t, p, "catalog")
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		for _, uri := range []string{"/admin/x", "/account/me", "/branches/1/products"} {
			resp, body := fwd{uri: uri, cookie: cookie, accept: htmlAccept}.send(t, p, dialect)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Authorization") != "" || !strings.Contains(body, `"error":"unavailable"`) {
				t.Errorf("%s %s during outage: %d %s", dialect, uri, resp.StatusCode, body)
			}
		}
		resp, body := fwd{uri: "/products", cookie: cookie}.send(t, p, dialect)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s public during outage: %d %s", dialect, resp.StatusCode, body)
		}
		if c, err := gw.Verify(context.Background(), bearerOf(t, resp)); err != nil || c.Subject != anonymous {
			t.Errorf("public token during outage: %+v %v", c, err)
		}
	}
	if resp, _ := newBrowser(t).get(p.url + "/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz during outage: %d", resp.StatusCode)
	}
	// A login can start (its state lives in a cookie) but cannot complete:
	// the callback must record the state as used, and fails closed.
	b := newBrowser(t)
	if resp, body := b.get(b.idpLogin(b.startLogin(p, "/"), "admin@example.com")); resp.StatusCode != http.StatusServiceUnavailable || b.session(p) != "" {
		t.Errorf("login callback during outage: %d %s", resp.StatusCode, body)
	}
	// The series exists at 0 from the start (metrics_children.go): it must have counted.
	if m := scrape(t, p); !strings.Contains(m, `authproxy_session_store_errors_total{op="load"}`) ||
		strings.Contains(m, `authproxy_session_store_errors_total{op="load"} 0`+"\n") {
		t.Errorf("store errors not counted")
	}

	e.store.SetDown(false)
	if resp, _ := newBrowser(t).get(p.url + "/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz after recovery: %d", resp.StatusCode)
	}
	// A Redis restarted without persistence keeps nothing: log in again.
	again, _ := loggedIn(t, p, "admin@example.com")
	if resp, body := (fwd{uri: "/admin/x", cookie: again}).send(t, p, dialectForwarded); resp.StatusCode != 200 {
		t.Fatalf("after recovery: %d %s", resp.StatusCode, body)
	}
}

func scrape(t *testing.T, p *proxy) string {
	t.Helper()
	resp, body := newBrowser(t).get(p.url + "/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return body
}

func TestMetricsAndProbes(t *testing.T) {
	t.Parallel()
	_, ps := newEnv(t, envOpts{})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "customer@example.com")
	for range 2 {
		fwd{uri: "/products", cookie: cookie}.send(t, p, dialectForwarded)
	}
	fwd{uri: "/admin/x", cookie: cookie}.send(t, p, dialectNginx)
	m := scrape(t, p)
	for _, want := range []string{
		`authproxy_decisions_total{outcome="allow",rule="catalog"} 2`,
		`authproxy_decisions_total{outcome="forbidden",rule="admin"} 1`,
		`authproxy_decision_duration_seconds_count{dialect="forwarded"} 2`,
		`authproxy_minted_token_cache_total{result="hit"} 1`,
		`authproxy_minted_token_cache_total{result="miss"} 1`,
		`authproxy_logins_total{outcome="ok"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/.well-known/jwks.json": 200, "/nope": 404} {
		resp, body := newBrowser(t).get(p.url + path)
		if resp.StatusCode != want {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, body := newBrowser(t).get(p.url + "/oauth2/userinfo")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"error":"unauthenticated"`) {
		t.Errorf("anonymous userinfo: %d %s", resp.StatusCode, body)
	}
}

// TestOrphanLockDoesNotHoldDecisions (issue 11, found by hack/faults): after
// Redis is paused and resumed, a SET NX for the refresh lock that Redis ran
// after the client had given up leaves a lock that nobody holds, for
// lockTTL. A session in its refresh window whose token is still valid must
// not wait for it: the decision serves the current token within
// refreshGrace; the client's bound (3s, below lockTTL and lockWait) only
// decides whether an answer arrives.
func TestOrphanLockDoesNotHoldDecisions(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	_, ps := newEnv(t, envOpts{now: clock.Now, idp: func(c *devidp.Config) { c.Now = clock.Now }})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "manager@example.com")
	before := loadSession(t, p, cookie)
	// The orphan: taken and never released.
	if _, err := p.srv.fresh.Lock(t.Context(), cookie, time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Minute) // inside the 2 m refresh window of the 1 h token
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Do(fwd{uri: "/branches/1/products", cookie: cookie}.request(t, p, dialectForwarded))
	if err != nil {
		t.Fatalf("no prompt answer while the refresh lock is orphaned: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || bearerOf(t, resp) != before.AccessToken {
		t.Fatalf("status %d; want 200 with the current token", resp.StatusCode)
	}
}
