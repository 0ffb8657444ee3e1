package app

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/server"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/hack/testkit/devlogin"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// TestRevocationFeedEndToEnd (issue 10, tokens already forwarded): two
// authproxy replicas on one redis-server and the dev IdP; an admin logs in
// on replica A, which forwards a gateway token (catalog) and the IdP's
// access token (inventory). Two services, each a jwtauth verifier as
// catalog and inventory configure it, follow replica B's revocation feed
// every second. After a logout (on replica B), an operator's revoke of the
// session (authproxy sessions revoke), the IdP's webhook revoking the
// user's tokens (to replica A), or its webhook revoking every token of the
// application (the feed's cutoff), both services refuse both captured
// tokens.
// The window, from the end of the action to the last refusal, is logged,
// not asserted.
func TestRevocationFeedEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		act  func(t *testing.T, e *feedEnv)
	}{
		{name: "logout", act: func(t *testing.T, e *feedEnv) { e.logout(t) }},
		{name: "operator revokes the session", act: func(t *testing.T, e *feedEnv) {
			infos, err := e.store.UserSessions(t.Context(), e.userID)
			if err != nil || len(infos) != 1 {
				t.Fatalf("user sessions: %v %v, want one", infos, err)
			}
			if err := e.store.DeleteSession(t.Context(), e.userID, infos[0].ID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "webhook revokes the user's tokens", act: func(t *testing.T, e *feedEnv) {
			if _, err := e.idp.RevokeUserTokens(t.Context(), e.userID); err != nil {
				t.Fatalf("webhook delivery: %v", err)
			}
		}},
		// No request loads the session afterwards, so nothing deletes it:
		// the feed's cutoff alone refuses the tokens it forwarded.
		{name: "webhook revokes every token of the application", act: func(t *testing.T, e *feedEnv) {
			if _, err := e.idp.RevokeApplicationTokens(t.Context()); err != nil {
				t.Fatalf("webhook delivery: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFeedEnv(t)
			services := map[string]struct {
				srv   *httptest.Server
				token string
			}{
				"catalog (gateway token)":  {e.catalog, e.gatewayToken},
				"inventory (access token)": {e.inventory, e.accessToken},
			}
			for name, s := range services {
				if code := call(t, s.srv, s.token); code != http.StatusOK {
					t.Fatalf("before: %s answered %d, want 200", name, code)
				}
			}
			tt.act(t, e)
			start := time.Now()
			refused := map[string]time.Duration{}
			testkit.WaitFor(t, "both services refuse both tokens", func() bool {
				for name, s := range services {
					if _, done := refused[name]; !done && call(t, s.srv, s.token) == http.StatusUnauthorized {
						refused[name] = time.Since(start)
					}
				}
				return len(refused) == len(services)
			})
			t.Logf("revocation feed window after %s: %v (poll interval 1s)", tt.name, refused)
		})
	}
}

// TestRevocationFeedDownFailsSafe: when the replica whose feed the
// services read goes away, they keep accepting tokens until the staleness
// bound (5 s) has passed since their last read, then refuse every token
// with 503. The time from the replica's end to the first 503 is logged.
func TestRevocationFeedDownFailsSafe(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	if code := call(t, e.catalog, e.gatewayToken); code != http.StatusOK {
		t.Fatalf("before: catalog answered %d, want 200", code)
	}
	e.feedServer.Close()
	start := time.Now()
	waitUnavailable(t, e.catalog, e.gatewayToken)
	t.Logf("feed down: catalog answered 503 after %v (bound 5s after its last read, polls every 1s)", time.Since(start))
	if code := call(t, e.inventory, e.accessToken); code != http.StatusServiceUnavailable {
		t.Errorf("inventory answered %d with the feed down, want 503", code)
	}
}

// feedEnv is one case's system, logged in as the dev IdP's admin.
type feedEnv struct {
	idp                *devidp.Server
	store              *session.RedisStore
	replicaA, replicaB string
	feedServer         *httptest.Server // replica B, whose feed the services read
	browser            *http.Client
	cookie, userID     string
	gatewayToken       string
	accessToken        string
	catalog, inventory *httptest.Server
}

func newFeedEnv(t *testing.T) *feedEnv {
	t.Helper()
	rs := testkit.StartRedis(t)
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &feedEnv{replicaA: "http://" + lnA.Addr().String()}
	var idpURL string
	e.idp, idpURL = startIDP(t, e.replicaA+webhook.Path, e.replicaA+"/oauth2/callback")
	cfg := appConfig(t, rs.Addr(), time.Second)
	cfg.PublicURL = e.replicaA // both replicas: one public URL
	cfg.FusionAuthURL, cfg.ClientID, cfg.ClientSecret = idpURL, e.idp.ClientID(), config.Secret(e.idp.ClientSecret())
	cfg.WebhookEnabled = true
	serveAppOn(t, cfg, lnA)
	e.feedServer = serveApp(t, cfg)
	e.replicaB = e.feedServer.URL
	for _, r := range []string{e.replicaA, e.replicaB} {
		testkit.WaitUntil(t, "replica ready", 10*time.Second, func(ctx context.Context) error {
			return testkit.HTTPOK(ctx, nil, r+"/readyz")
		})
	}
	rdb := session.NewRedisClient(session.Options{Addrs: []string{rs.Addr()}})
	t.Cleanup(func() { _ = rdb.Close() })
	if e.store, err = session.NewRedisStore(session.Config{Client: rdb}); err != nil {
		t.Fatal(err)
	}
	admin, err := devidp.DefaultUser("admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	e.userID = admin.ID
	e.login(t)
	e.gatewayToken = e.forwarded(t, "/products/1")
	e.accessToken = e.forwarded(t, "/branches/1/products")
	feed := &jwtauth.RevocationConfig{URL: e.replicaB + server.FeedPath, Interval: time.Second}
	e.catalog = service(t, jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: e.replicaA, JWKSURL: e.replicaA + "/.well-known/jwks.json"}},
		Audience: "catalog", Revocations: feed,
	})
	e.inventory = service(t, jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: idpURL, JWKSURL: idpURL + "/.well-known/jwks.json"}},
		Audience: e.idp.ClientID(), Revocations: feed,
	})
	return e
}

// login signs in as the admin on replica A (no redirects followed).
func (e *feedEnv) login(t *testing.T) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.browser = &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := e.browser.Get(e.replicaA + "/oauth2/start?rd=/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	resp, body, err := devlogin.Login(t.Context(), e.browser, resp.Header.Get("Location"), "admin@example.com")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("login at the IdP: %v %s", err, body)
	}
	if resp, err = e.browser.Get(resp.Header.Get("Location")); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	for _, c := range jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(e.replicaA, "http://")}) {
		if c.Name == cookieName {
			e.cookie = c.Value
		}
	}
	if e.cookie == "" {
		t.Fatalf("no session cookie after the callback (%d)", resp.StatusCode)
	}
}

// logout logs the session out on replica B (the logout form's POST).
func (e *feedEnv) logout(t *testing.T) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.replicaB+"/oauth2/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", e.replicaA)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: e.cookie})
	resp, err := e.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d, want 303", resp.StatusCode)
	}
}

// forwarded is the bearer token replica A forwards for GET uri.
func (e *feedEnv) forwarded(t *testing.T, uri string) string {
	t.Helper()
	code, tok := askAuthz(t, e.replicaA, uri, &http.Cookie{Name: cookieName, Value: e.cookie}, "")
	if code != http.StatusOK || tok == "" {
		t.Fatalf("authz %s: %d, no bearer token", uri, code)
	}
	return tok
}

// askAuthz asks replica's /authz about GET uri with cookie and bearer token
// (nil and "" = none); it returns the status and the forwarded token.
func askAuthz(t *testing.T, replica, uri string, cookie *http.Cookie, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, replica+"/authz", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example", "X-Forwarded-Uri": uri} {
		req.Header.Set(k, v)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	forwarded, _ := strings.CutPrefix(resp.Header.Get("Authorization"), "Bearer ")
	return resp.StatusCode, forwarded
}

// bearer sends an authz request and returns the bearer token the answer
// forwards.
func bearer(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	tok, ok := strings.CutPrefix(resp.Header.Get("Authorization"), "Bearer ")
	if resp.StatusCode != http.StatusOK || !ok {
		t.Fatalf("authz %s: %d, no bearer token", req.Header.Get("X-Forwarded-Uri"), resp.StatusCode)
	}
	return tok
}

// service serves a verifier's middleware in front of a 200, as catalog and
// inventory do.
func service(t *testing.T, cfg jwtauth.Config) *httptest.Server {
	t.Helper()
	v, err := jwtauth.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	testkit.WaitUntil(t, "verifier ready", 10*time.Second, func(context.Context) error { return v.Ready() })
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})))
	t.Cleanup(srv.Close)
	return srv
}

// call sends token to srv and returns the status.
func call(t *testing.T, srv *httptest.Server, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	code, err := status(t, srv.Client(), req)
	if err != nil {
		t.Fatal(err)
	}
	return code
}
