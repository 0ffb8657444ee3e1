package server

import (
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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/session/sessiontest"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/hack/testkit/devlogin"
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

// env is one test world: an identity provider (the dev IdP, in process,
// or fakeProvider), the in-memory session store, and one or more authproxy
// instances sharing that store as replicas share Redis.
type env struct {
	t      testing.TB
	idp    *devidp.Server // nil with the fake provider
	idpURL string
	fake   *fakeProvider // nil with the dev IdP
	store  *sessiontest.Memory
	logs   *testkit.LogBuffer
	// tokenDown makes the IdP's token endpoint answer 503 (IdP outage).
	tokenDown atomic.Bool
	// refreshAs, when set, replaces the refresh token of every refresh
	// grant, so the IdP answers with another user's tokens.
	refreshAs atomic.Pointer[string]
	// tokenAnswer, when set, answers the IdP's token endpoint instead.
	tokenAnswer atomic.Pointer[http.HandlerFunc]
}

type envOpts struct {
	idp func(*devidp.Config)
	// fakeIdP puts fakeProvider in the dev IdP's place: no login flow,
	// sessions are made with env.sessionFor.
	fakeIdP bool
	proxies int // authproxy instances sharing the store; 0 = 1
	cfg     func(*config.Config)
	now     func() time.Time
	// discovery edits the IdP's discovery document (a provider that
	// announces less than devidp does).
	discovery func(doc map[string]any)
	// oidc edits the provider's configuration.
	oidc func(*oidc.Config)
	// tracer, when set, is the server's (Deps.Tracer).
	tracer trace.Tracer
	// revocations, when set, is the server's (Deps.Revocations).
	revocations Revocations
	// cache, when set, wraps the env's store as the server's Store (a
	// session cache); the unwrapped store is its Fresh.
	cache func(session.Store) session.Store
}

// proxy is one authproxy instance.
type proxy struct {
	url      string
	srv      *Server
	provider *oidc.Provider // nil with the fake provider
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
	e := &env{t: t, logs: &testkit.LogBuffer{}}
	if o.fakeIdP {
		e.fake = newFakeProvider(o.now)
	} else {
		e.startIdP(redirects, urls[0], o)
	}
	cfgs := make([]*config.Config, n)
	for i := range n {
		cfgs[i] = testConfig(t, urls[i], e.idpURL)
		if o.cfg != nil {
			o.cfg(cfgs[i])
		}
	}
	e.store = sessiontest.NewMemory(sessiontest.Options{
		Lifetime: cfgs[0].SessionLifetime, IdleTimeout: cfgs[0].SessionIdleTimeout, Now: o.now,
	})
	proxies := make([]*proxy, n)
	for i, cfg := range cfgs {
		logger := httpkit.NewLogger(e.logs, slog.LevelDebug)
		p := &proxy{url: urls[i]}
		var provider Provider = e.fake
		if e.fake == nil {
			p.provider = e.provider(cfg, logger, o)
			provider = p.provider
		}
		var store session.Store = e.store
		if o.cache != nil {
			store = o.cache(e.store)
		}
		srv, err := New(Deps{
			Config: cfg, Store: store, Fresh: e.store, States: e.store, Provider: provider, Ping: e.store.Ping,
			Logger: logger, Now: o.now, Tracer: o.tracer, Revocations: o.revocations,
		})
		if err != nil {
			t.Fatal(err)
		}
		p.srv = srv
		serve(t, lns[i], srv.Handler())
		proxies[i] = p
	}
	return e, proxies
}

// startIdP serves the dev IdP, with the env's fault switches in front.
func (e *env) startIdP(redirects []string, home string, o envOpts) {
	t := e.t
	idpLn, idpURL := listen(t)
	idpCfg := devidp.Config{Issuer: idpURL, RedirectURIs: redirects, LogoutURIs: []string{home + "/"}}
	if o.idp != nil {
		o.idp(&idpCfg)
	}
	idp, err := devidp.New(idpCfg)
	if err != nil {
		t.Fatal(err)
	}
	e.idp, e.idpURL = idp, idpURL
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
}

// provider is the real OIDC provider for cfg against the dev IdP, as main
// builds it, discovered before it is returned.
func (e *env) provider(cfg *config.Config, logger *slog.Logger, o envOpts) *oidc.Provider {
	t := e.t
	t.Helper()
	ocfg, err := OIDCConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ocfg.Logger, ocfg.Now = logger, o.now
	if o.oidc != nil {
		o.oidc(&ocfg)
	}
	p, err := oidc.New(t.Context(), ocfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t.Context())
	testkit.WaitFor(t, "discovery", func() bool { return p.Ready() == nil })
	return p
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

// idpLogin signs in at the dev IdP's login page for the authorize URL
// (devlogin) and returns the callback URL the IdP redirects to.
func (b *browser) idpLogin(authURL, email string) string {
	b.t.Helper()
	resp, body, err := devlogin.Login(b.t.Context(), b.c, authURL, email)
	if err != nil {
		b.t.Fatal(err)
	}
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
	return gatewayVerifierConfig(t, jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: p.url, JWKSURL: p.url + "/.well-known/jwks.json"}},
		Audience: aud,
	})
}

// gatewayVerifierConfig is a verifier of cfg, once its keys (and its
// revocation feed, if any) are read.
func gatewayVerifierConfig(t testing.TB, cfg jwtauth.Config) *jwtauth.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := jwtauth.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	testkit.WaitFor(t, "gateway jwks", func() bool { return v.Ready() == nil })
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
	testkit.WaitFor(t, "idp jwks", func() bool { return v.Ready() == nil })
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

// loadSession reads a session straight from the store (no cache).
func loadSession(t testing.TB, p *proxy, cookie string) *session.Session {
	t.Helper()
	s, err := p.srv.fresh.Load(context.Background(), cookie)
	if err != nil {
		t.Fatalf("load session: %v", err)
	}
	return s
}
