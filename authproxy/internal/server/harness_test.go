package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// Dev users (hack/devidp defaults).
const (
	adminID    = "2a7f6c43-5d0e-4b6a-9c31-0f1e2d3c4b5a"
	managerID  = "7c1b9e2d-8f3a-4e5b-a6c7-d8e9f0a1b2c3"
	customerID = "4e8d2a1f-3b6c-4d7e-8f90-a1b2c3d4e5f6"
	outsiderID = "9b3c5d7e-1f2a-4b4c-8d6e-f0a1b2c3d4e5"
	appHost    = "app.example"
)

// redisServer is a real redis-server started for one test.
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// startRedis starts redis-server on a free port; it is stopped at cleanup.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not on PATH (required in CI): %v", err)
		}
		t.Skip("redis-server not on PATH; install it (Debian: redis-server) to run this test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--protected-mode", "yes")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not come up", r.addr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *redisServer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// listen reserves a 127.0.0.1 port so URLs are known before servers start.
func listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

func serve(t testing.TB, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
}

// env is one test world: devidp, Redis, and one or more authproxy instances.
type env struct {
	t      testing.TB
	idp    *devidp.Server
	idpURL string
	redis  redis.UniversalClient
	rs     *redisServer // nil when the test supplied its own client
	logs   *syncBuffer
	// tokenDown makes the IdP's token endpoint answer 503 (IdP outage).
	tokenDown atomic.Bool
	// refreshAs, when set, replaces the refresh token of every refresh
	// grant, so the IdP answers with another user's tokens.
	refreshAs atomic.Pointer[string]
	// tokenAnswer, when set, answers the IdP's token endpoint instead.
	tokenAnswer atomic.Pointer[http.HandlerFunc]
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type envOpts struct {
	idp     func(*devidp.Config)
	redis   redis.UniversalClient // nil = a real redis-server
	proxies int                   // authproxy instances sharing Redis; 0 = 1
	cfg     func(*config.Config)
	now     func() time.Time
	quiet   bool // logs to io.Discard at info level (benchmarks)
	// discovery edits the IdP's discovery document (a provider that
	// announces less than devidp does).
	discovery func(doc map[string]any)
}

// proxy is one authproxy instance.
type proxy struct {
	url string
	srv *Server
}

func newEnv(t testing.TB, o envOpts) (*env, []*proxy) {
	t.Helper()
	n := max(o.proxies, 1)
	lns := make([]net.Listener, n)
	urls := make([]string, n)
	var redirects []string
	for i := range n {
		lns[i], urls[i] = listen(t)
		redirects = append(redirects, urls[i]+"/oauth2/callback")
	}
	idpLn, idpURL := listen(t)
	idpCfg := devidp.Config{Issuer: idpURL, RedirectURIs: redirects, LogoutURIs: []string{urls[0] + "/"}}
	if o.idp != nil {
		o.idp(&idpCfg)
	}
	idp, err := devidp.New(idpCfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, idp: idp, idpURL: idpURL, logs: &syncBuffer{}}
	serve(t, idpLn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.tokenDown.Load() && r.URL.Path == "/oauth2/token" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if o.discovery != nil && r.URL.Path == "/.well-known/openid-configuration" {
			rec := httptest.NewRecorder()
			idp.Handler().ServeHTTP(rec, r)
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			o.discovery(doc)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(doc)
			return
		}
		if h := e.tokenAnswer.Load(); h != nil && r.URL.Path == "/oauth2/token" {
			(*h)(w, r)
			return
		}
		if rt := e.refreshAs.Load(); rt != nil && r.URL.Path == "/oauth2/token" && r.ParseForm() == nil &&
			r.PostForm.Get("grant_type") == "refresh_token" {
			r.PostForm.Set("refresh_token", *rt)
			r.Form.Set("refresh_token", *rt)
		}
		idp.Handler().ServeHTTP(w, r)
	}))
	rdb := o.redis
	var rs *redisServer
	if rdb == nil {
		rs = startRedis(t)
		rdb = redis.NewClient(&redis.Options{Addr: rs.addr(), DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
		t.Cleanup(func() { rdb.Close() })
	}
	e.redis, e.rs = rdb, rs
	proxies := make([]*proxy, n)
	for i := range n {
		cfg := testConfig(t, urls[i], idpURL)
		if o.cfg != nil {
			o.cfg(cfg)
		}
		logger := httpkit.NewLogger(e.logs, slog.LevelDebug)
		if o.quiet {
			logger = httpkit.NewLogger(io.Discard, slog.LevelInfo)
		}
		srv, err := New(Deps{Config: cfg, Redis: rdb, Logger: logger, Now: o.now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		serve(t, lns[i], srv.Handler())
		waitFor(t, "discovery", func() bool { return srv.Provider().Ready() == nil })
		proxies[i] = &proxy{url: urls[i], srv: srv}
	}
	return e, proxies
}

func testConfig(t testing.TB, publicURL, idpURL string) *config.Config {
	t.Helper()
	rules, err := policy.Load("../../testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &config.Config{
		Listen: ":0", PublicURL: publicURL, FusionAuthURL: idpURL,
		ClientID: devidp.DefaultClientID, ClientSecret: devidp.DefaultClientSecret,
		RedisAddrs: []string{"unused:6379"}, CookieName: "gw_session",
		CookieSecret: "0123456789abcdef0123456789abcdef",
		SigningAlg:   "ES256", DevMode: true, TokenTTL: time.Minute,
		RulesFile: "../../testdata/rules.yaml", Rules: rules,
		TrustedProxies:     mustPrefixes("127.0.0.1/32", "::1/128"),
		SessionLifetime:    12 * time.Hour,
		SessionIdleTimeout: time.Hour,
		RefreshWindow:      2 * time.Minute,
		SessionCacheTTL:    time.Second,
		PassUserHeaders:    true,
		ShutdownTimeout:    time.Second,
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// browser is a cookie-jar HTTP client that does not follow redirects.
type browser struct {
	t   testing.TB
	jar *cookiejar.Jar
	c   *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, jar: jar, c: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// cookie returns the value of a cookie the jar holds for u.
func (b *browser) cookie(u, name string) string {
	pu, _ := url.Parse(u)
	for _, c := range b.jar.Cookies(pu) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// loginCookies returns the login-state cookies the jar holds for p.
func (b *browser) loginCookies(p *proxy) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range b.jar.Cookies(must(url.Parse(p.url))) {
		if strings.HasPrefix(c.Name, "gw_session_login_") {
			out = append(out, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/"})
		}
	}
	return out
}

// startLogin follows /oauth2/start to the IdP and returns the IdP's
// authorize URL.
func (b *browser) startLogin(p *proxy, rd string) string {
	b.t.Helper()
	resp, body := b.get(p.url + "/oauth2/start?rd=" + url.QueryEscape(rd))
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("/oauth2/start: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// idpLogin posts devidp's login form for the authorize URL and returns the
// callback URL the IdP redirects to.
func (b *browser) idpLogin(authURL, email string) string {
	b.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, body := b.get(authURL)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="login-form"`) {
		b.t.Fatalf("authorize page: %d %s", resp.StatusCode, body)
	}
	form := u.Query()
	form.Set("loginId", email)
	form.Set("password", strings.Split(email, "@")[0]+"-pass")
	u.RawQuery = ""
	req, _ := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body = b.do(req)
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("login POST: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// login runs the whole flow and returns the final redirect target.
func (b *browser) login(p *proxy, email, rd string) string {
	b.t.Helper()
	cb := b.idpLogin(b.startLogin(p, rd), email)
	resp, body := b.get(cb)
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

func (b *browser) session(p *proxy) string { return b.cookie(p.url, "gw_session") }

// fwd describes one original request, sent to authproxy in a dialect.
type fwd struct {
	method  string
	uri     string
	host    string // default appHost
	accept  string
	cookie  string // session cookie value
	bearer  string
	headers map[string]string
}

func (f fwd) request(t testing.TB, p *proxy, dialect string) *http.Request {
	t.Helper()
	method := f.method
	if method == "" {
		method = http.MethodGet
	}
	host := f.host
	if host == "" {
		host = appHost
	}
	var req *http.Request
	var err error
	switch dialect {
	case dialectForwarded:
		req, err = http.NewRequest(http.MethodGet, p.url+"/authz", nil)
		if err == nil {
			req.Header.Set("X-Forwarded-Method", method)
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-Host", host)
			req.Header.Set("X-Forwarded-Uri", f.uri)
		}
	case dialectNginx:
		req, err = http.NewRequest(http.MethodGet, p.url+"/authz/nginx", nil)
		if err == nil {
			req.Header.Set("X-Original-URL", "https://"+host+f.uri)
			req.Header.Set("X-Original-Method", method)
		}
	case dialectEnvoy:
		req, err = http.NewRequest(method, p.url+"/authz/envoy"+f.uri, nil)
		if err == nil {
			req.URL.Opaque = "/authz/envoy" + f.uri // origin-form, the path as sent
			req.URL.RawQuery = ""                   // already in Opaque
			req.Host = host
			req.Header.Set("X-Forwarded-Proto", "https")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if f.accept != "" {
		req.Header.Set("Accept", f.accept)
	}
	if f.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "gw_session", Value: f.cookie})
	}
	if f.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+f.bearer)
	}
	for k, v := range f.headers {
		req.Header.Set(k, v)
	}
	return req
}

var plainClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func send(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := plainClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func (f fwd) send(t testing.TB, p *proxy, dialect string) (*http.Response, string) {
	t.Helper()
	return send(t, f.request(t, p, dialect))
}

// gatewayVerifier verifies gateway tokens exactly as catalog/inventory do.
func gatewayVerifier(t testing.TB, p *proxy, aud string) *jwtauth.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := jwtauth.New(ctx, jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: p.url, JWKSURL: p.url + "/.well-known/jwks.json"}},
		Audience: aud,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	waitFor(t, "gateway jwks", func() bool { return v.Ready() == nil })
	return v
}

// fusionVerifier verifies FusionAuth access tokens as inventory does.
func fusionVerifier(t testing.TB, e *env) *jwtauth.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := jwtauth.New(ctx, jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: e.idpURL, JWKSURL: e.idpURL + "/.well-known/jwks.json"}},
		Audience: devidp.DefaultClientID,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	waitFor(t, "idp jwks", func() bool { return v.Ready() == nil })
	return v
}

func bearerOf(t testing.TB, resp *http.Response) string {
	t.Helper()
	h := resp.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		t.Fatalf("no bearer token in response (Authorization %q)", h)
	}
	return tok
}

func decodeJSON(t testing.TB, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, body)
	}
	return m
}

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// miniRedis starts an embedded miniredis (for expiry via FastForward).
func miniRedis(t testing.TB) (*miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	return mr, c
}

// loggedIn returns a fresh login's session cookie for email on p.
func loggedIn(t testing.TB, p *proxy, email string) (string, *browser) {
	t.Helper()
	b := newBrowser(t)
	b.login(p, email, "/")
	c := b.session(p)
	if c == "" {
		t.Fatalf("no session cookie after login as %s", email)
	}
	return c, b
}

// loadSession reads a session straight from Redis (no cache).
func loadSession(t testing.TB, p *proxy, cookie string) *session.Session {
	t.Helper()
	s, err := p.srv.fresh.Load(context.Background(), cookie)
	if err != nil {
		t.Fatalf("load session: %v", err)
	}
	return s
}
