package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// The tests here run the App as main builds it, on a real redis-server
// (testkit.StartRedis): what the fail-fast client and the circuit
// breaker make of a Redis that stops or hangs. The server's decisions are
// tested in package server against in-memory stand-ins.

const (
	cookieName = "gw_session"
	adminID    = "2a7f6c43-5d0e-4b6a-9c31-0f1e2d3c4b5a"
)

// appConfig is a configuration for an App on redisAddr. The identity
// provider is unreachable: the decisions on existing sessions tested here
// do not ask it.
func appConfig(t testing.TB, redisAddr string, cacheTTL time.Duration) *config.Config {
	t.Helper()
	rules, err := policy.Load("../../testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &config.Config{
		PublicURL: "http://gw.test", FusionAuthURL: "http://127.0.0.1:1", ClientID: "app",
		RedisAddrs: []string{redisAddr}, CookieName: cookieName,
		CookieSecret: "0123456789abcdef0123456789abcdef",
		SigningAlg:   "ES256", DevMode: true, TokenTTL: time.Minute, Rules: rules,
		TrustedProxies:  []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		SessionLifetime: 12 * time.Hour, SessionIdleTimeout: time.Hour,
		RefreshWindow: 2 * time.Minute, SessionCacheTTL: cacheTTL,
	}
}

// serveApp builds the App for cfg and serves it; both stop at cleanup.
func serveApp(t testing.TB, cfg *config.Config) *httptest.Server {
	t.Helper()
	a, err := New(Deps{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// adminSession stores an admin's session in the Redis at addr, as a login
// would, and returns its cookie.
func adminSession(t testing.TB, addr string) string {
	t.Helper()
	return userSession(t, addr, adminID)
}

// userSession stores an admin-role session of userID in the Redis at addr,
// as a login would, and returns its cookie.
func userSession(t testing.TB, addr, userID string) string {
	t.Helper()
	cookie, err := redisStore(t, addr).Create(context.Background(), &session.Session{
		UserID: userID, Roles: []string{"admin"},
		AccessToken: "at", RefreshToken: "rt", AccessExpiry: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cookie
}

// redisStore is a session store on the Redis at addr, closed at cleanup.
func redisStore(t testing.TB, addr string) *session.RedisStore {
	t.Helper()
	c := session.NewRedisClient(session.Options{Addrs: []string{addr}})
	t.Cleanup(func() { _ = c.Close() })
	store, err := session.NewRedisStore(session.Config{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// authz asks srv about GET https://app.example<uri> in one proxy dialect.
func authz(t testing.TB, srv *httptest.Server, dialect, uri, cookie string) *http.Request {
	t.Helper()
	target := map[string]string{"forwarded": "/authz", "nginx": "/authz/nginx", "envoy": "/authz/envoy" + uri}[dialect]
	req, err := http.NewRequest(http.MethodGet, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch dialect {
	case "forwarded":
		for k, v := range map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example", "X-Forwarded-Uri": uri} {
			req.Header.Set(k, v)
		}
	case "nginx":
		req.Header.Set("X-Original-URL", "https://app.example"+uri)
		req.Header.Set("X-Original-Method", "GET")
	case "envoy":
		req.Host = "app.example"
		req.Header.Set("X-Forwarded-Proto", "https")
	}
	req.Header.Set("Accept", "application/json")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	return req
}

func status(t testing.TB, c *http.Client, req *http.Request) (int, error) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// TestRedisDownFailsFast: through the client main builds, a session-rule
// decision answers 503 promptly once Redis is stopped; it is not held up
// by a retry-and-redial ladder (the forwarding client gives up after a
// bound far above the fail-fast path, and no answer is not a 503).
func TestRedisDownFailsFast(t *testing.T) {
	t.Parallel()
	rs := testkit.StartRedis(t)
	srv := serveApp(t, appConfig(t, rs.Addr(), 0))
	cookie := adminSession(t, rs.Addr())
	if code, err := status(t, srv.Client(), authz(t, srv, "forwarded", "/admin/x", cookie)); err != nil || code != http.StatusOK {
		t.Fatalf("before outage: %d %v", code, err)
	}
	rs.Stop()
	// go-redis's defaults (3 retries of 5 dial attempts each, with
	// backoff) take about 1.7s to give up on a refused connection here;
	// the fail-fast client answers in milliseconds. The bound only decides
	// whether an answer arrives at all.
	client := &http.Client{Timeout: time.Second}
	for _, dialect := range []string{"forwarded", "nginx", "envoy"} {
		code, err := status(t, client, authz(t, srv, dialect, "/admin/x", cookie))
		if err != nil {
			t.Fatalf("%s: no answer while Redis is down: %v", dialect, err)
		}
		if code != http.StatusServiceUnavailable {
			t.Errorf("%s: %d; want 503", dialect, code)
		}
	}
}

// TestStoreKnownDownCostsNothing (issue 11): while Redis is paused
// (SIGSTOP: connections open, nothing answers), every request with a
// session cookie used to wait for the 1s Redis read timeout, public rules
// included. Once the breaker has seen Redis fail, a public rule with a
// cookie is served anonymously and a session rule gets its 503 without
// waiting: the client's 500ms bound, below Redis's timeout, only decides
// whether an answer arrives. When Redis resumes, sessions work again at
// once (within the probe interval).
func TestStoreKnownDownCostsNothing(t *testing.T) {
	t.Parallel()
	rs := testkit.StartRedis(t)
	srv := serveApp(t, appConfig(t, rs.Addr(), 0))
	cookie := adminSession(t, rs.Addr())
	rs.Pause()
	t.Cleanup(rs.Resume)
	// The first requests pay the timeout and open the breaker.
	slow := &http.Client{Timeout: 10 * time.Second}
	for range 3 {
		if _, err := status(t, slow, authz(t, srv, "forwarded", "/admin/x", cookie)); err != nil {
			t.Fatal(err)
		}
	}
	fast := &http.Client{Timeout: 500 * time.Millisecond}
	for i := range 10 {
		for _, tc := range []struct {
			uri  string
			want int
		}{{"/products/1", http.StatusOK}, {"/admin/x", http.StatusServiceUnavailable}} {
			code, err := status(t, fast, authz(t, srv, "forwarded", tc.uri, cookie))
			if err != nil {
				t.Fatalf("request %d %s while Redis is known down: no prompt answer: %v", i, tc.uri, err)
			}
			if code != tc.want {
				t.Fatalf("request %d %s: %d; want %d", i, tc.uri, code, tc.want)
			}
		}
	}
	rs.Resume()
	testkit.WaitUntil(t, "sessions after Redis resumed", 20*time.Second, func(ctx context.Context) error {
		code, err := status(t, fast, authz(t, srv, "forwarded", "/admin/x", cookie).WithContext(ctx))
		if err == nil && code != http.StatusOK {
			err = errors.New(http.StatusText(code))
		}
		return err
	})
}

// TestNewRedisClientOptions: main's client is the session package's
// fail-fast client (one retry, one dial attempt, context deadlines
// honoured) with an explicit pool, and carries the Sentinel credentials.
func TestNewRedisClientOptions(t *testing.T) {
	t.Parallel()
	c := NewRedisClient(&config.Config{RedisAddrs: []string{"127.0.0.1:1"}, RedisDB: 3, RedisUsername: "u", RedisPassword: "p"})
	t.Cleanup(func() { _ = c.Close() })
	o := c.(*redis.Client).Options()
	if o.MaxRetries != 1 || o.DialerRetries != 1 || !o.ContextTimeoutEnabled {
		t.Errorf("retries %d, dial attempts %d, context timeouts %v; want 1, 1, true", o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled)
	}
	if want := 10 * runtime.GOMAXPROCS(0); o.PoolSize != want {
		t.Errorf("pool size %d; want %d", o.PoolSize, want)
	}
	if o.DB != 3 || o.Username != "u" || o.Password != "p" {
		t.Errorf("db/user/password not passed: %d %q", o.DB, o.Username)
	}
}

// TestRedisOptions: every Redis setting of the configuration reaches the
// client, the Sentinel credentials included.
func TestRedisOptions(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		RedisAddrs: []string{"s1:26379", "s2:26379"}, RedisMasterName: "mymaster",
		RedisUsername: "u", RedisPassword: "p", RedisDB: 2, RedisTLS: true,
		RedisSentinelUsername: "su", RedisSentinelPassword: "sp",
	}
	o := redisOptions(cfg)
	if o.MasterName != "mymaster" || len(o.Addrs) != 2 || o.Username != "u" || o.Password != "p" || o.DB != 2 ||
		o.SentinelUsername != "su" || o.SentinelPassword != "sp" || o.TLS == nil || o.PoolSize != 10*runtime.GOMAXPROCS(0) {
		t.Errorf("options not all passed: master %q addrs %v db %d tls %v pool %d sentinel user %q", o.MasterName, o.Addrs, o.DB, o.TLS != nil, o.PoolSize, o.SentinelUsername)
	}
}

// TestRulesReloadStarted: with rules-reload the App watches the rules file
// (main's wiring): a rule added to the file is served without a restart.
// The decision is on a public rule, without a cookie, so Redis is not asked.
func TestRulesReloadStarted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	const v1 = "rules:\n  - {name: a, match: {path: /a}, access: public, upstream: up}\n"
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := appConfig(t, "127.0.0.1:1", 0)
	rules, err := policy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RulesFile, cfg.Rules, cfg.RulesReload, cfg.RulesReloadInterval = path, rules, true, 10*time.Millisecond
	srv := serveApp(t, cfg)
	if code, err := status(t, srv.Client(), authz(t, srv, "forwarded", "/b", "")); err != nil || code == http.StatusOK {
		t.Fatalf("/b before the change: %d %v, want refused", code, err)
	}
	if err := os.WriteFile(path, []byte(v1+"  - {name: b, match: {path: /b}, access: public, upstream: up}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the added rule served", func() bool {
		code, err := status(t, srv.Client(), authz(t, srv, "forwarded", "/b", ""))
		return err == nil && code == http.StatusOK
	})
}
