package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/hack/testkit/devlogin"
)

// benchRules: one public rule, one role rule per forward kind, one rule any
// login passes. Paths match the scenarios in main.go.
const benchRules = `rules:
  - name: catalog
    match: {host: "*", methods: [GET], path: "/products/**"}
    access: public
    upstream: catalog
  - name: branch-inventory
    match: {methods: [GET], path: "/branches/*/products"}
    access: roles
    anyOf: [admin, branch-manager]
    upstream: inventory
    forward: access-token
  - name: admin
    match: {path: "/admin/**"}
    access: roles
    anyOf: [admin]
    upstream: admin
  - name: account
    match: {methods: [GET, POST], path: "/account/**"}
    access: authenticated
    upstream: account
`

// httpServer is one in-process server on a 127.0.0.1 listener.
type httpServer struct {
	url string
	srv *http.Server
	ln  net.Listener
}

func listen() (net.Listener, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	return ln, "http://" + ln.Addr().String(), nil
}

func serve(ln net.Listener, url string, h http.Handler) *httpServer {
	s := &httpServer{url: url, ln: ln, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

func (s *httpServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// stack is everything the scenarios hit.
type stack struct {
	redis     *testkit.Redis
	bare      *httpServer
	bareRedis *httpServer
	// bareDecision answers authproxy's allow headers (answer) from this process.
	bareDecision *httpServer
	answer       decisionAnswer
	idp          *httpServer
	cached       *child // authproxy, session-cache-ttl default (1s)
	quiet        *child // the same with --log-level warn
	spread       *child // the same as cached, for the random-session row (its cache and RSS apart)
	uncached     *child // authproxy, session-cache-ttl 0
	peer         *child // oauth2-proxy (nil without -peer)
	front        *nginxFront
	rdb          redis.UniversalClient // INFO commandstats, the bare GET
	closers      []func()
	cookie       string // admin's session cookie (valid on every authproxy: same Redis)
	accessTok    string // admin's FusionAuth access token
	cookieName   string
	peerCookie   string // admin's oauth2-proxy session cookie
	recordLen    int64  // bytes of admin's sealed session record in Redis
	// cookiesFile holds -sessions cookies of admin sessions, one a line.
	cookiesFile  string
	cookieScript string // wrk script sending one of them at random
	cookies      []string
	// redisPerSession is Redis's used_memory growth per seeded session.
	redisPerSession int64
	// spreadEntries is the spread authproxy's session and token cache
	// bound (sessions + 10%); spreadRSS0 its RSS before any random load.
	spreadEntries int
	spreadRSS0    int64
}

// stackOptions says what startStack starts besides Redis, devidp, the bare
// handlers and the authproxies.
type stackOptions struct {
	redisBin, authproxyBin string
	peerBin                string // oauth2-proxy binary; "" = no peer
	nginxBin               string // "" = no nginx rows
	keepalive              int    // nginx keepalive to the auth services and the upstream
	sessions               int    // sessions to seed for the random-session row; 0 = none
}

func (s *stack) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// bareOK is the baseline handler: 200 with a tiny body.
func bareOK(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

const (
	bareKey    = "bench:bare"
	cookieName = "gw_session" // authproxy's default cookie-name on http
)

// newRedisClient mirrors authproxy's app.NewRedisClient options for a
// single node (that package is internal to authproxy, so it cannot be
// imported here).
func newRedisClient(addr string) redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:        []string{addr},
		DialTimeout:  2 * time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		PoolTimeout:  2 * time.Second,
	})
}

// startStack starts Redis, the bare handlers, devidp and two authproxy
// processes, and logs admin in through the real flow.
func startStack(ctx context.Context, so stackOptions) (st *stack, err error) {
	redisBin, authproxyBin := so.redisBin, so.authproxyBin
	st = &stack{cookieName: cookieName}
	defer func() {
		if err != nil {
			st.close()
			st = nil
		}
	}()
	dir, err := os.MkdirTemp("", "gw-bench-")
	if err != nil {
		return nil, err
	}
	st.closers = append(st.closers, func() { _ = os.RemoveAll(dir) })
	if authproxyBin == "" {
		if authproxyBin, err = buildAuthproxy(ctx, dir); err != nil {
			return nil, err
		}
	}
	seedBin := ""
	if so.sessions > 0 {
		if seedBin, err = buildSeeder(ctx, dir); err != nil {
			return nil, err
		}
	}
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(benchRules), 0o600); err != nil {
		return nil, err
	}

	if st.redis, err = testkit.NewRedis(testkit.RedisOptions{Bin: redisBin}); err != nil {
		return nil, err
	}
	st.closers = append(st.closers, func() { _ = st.redis.Close() })
	if err := st.redis.Start(ctx); err != nil {
		return nil, err
	}

	// Addresses first: every URL is known before anything starts.
	bareLn, bareURL, err := listen()
	if err != nil {
		return nil, err
	}
	bareRedisLn, bareRedisURL, err := listen()
	if err != nil {
		return nil, err
	}
	bareDecisionLn, bareDecisionURL, err := listen()
	if err != nil {
		return nil, err
	}
	idpLn, idpURL, err := listen()
	if err != nil {
		return nil, err
	}
	cachedPort, err := testkit.PickPort()
	if err != nil {
		return nil, err
	}
	uncachedPort, err := testkit.PickPort()
	if err != nil {
		return nil, err
	}
	quietPort, err := testkit.PickPort()
	if err != nil {
		return nil, err
	}
	spreadPort, err := testkit.PickPort()
	if err != nil {
		return nil, err
	}
	peerPort, err := testkit.PickPort()
	if err != nil {
		return nil, err
	}
	cachedURL := "http://127.0.0.1:" + strconv.Itoa(cachedPort)
	uncachedURL := "http://127.0.0.1:" + strconv.Itoa(uncachedPort)
	quietURL := "http://127.0.0.1:" + strconv.Itoa(quietPort)
	spreadURL := "http://127.0.0.1:" + strconv.Itoa(spreadPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)

	st.bare = serve(bareLn, bareURL, http.HandlerFunc(bareOK))
	st.closers = append(st.closers, st.bare.close)

	idp, err := devidp.New(devidp.Config{
		Issuer:       idpURL,
		RedirectURIs: []string{cachedURL + "/oauth2/callback", uncachedURL + "/oauth2/callback", quietURL + "/oauth2/callback", peerURL + "/oauth2/callback"},
		LogoutURIs:   []string{cachedURL + "/"},
	})
	if err != nil {
		return nil, err
	}
	st.idp = serve(idpLn, idpURL, idp.Handler())
	st.closers = append(st.closers, st.idp.close)

	cookieSecret := rand.Text() + rand.Text() // 52 base32 characters
	newProxy := func(publicURL string, port int, cacheTTL string, extra ...string) (*child, error) {
		p := proxySpec{bin: authproxyBin, cookieSecret: cookieSecret, idpURL: idpURL, redisAddr: st.redis.Addr(), rulesFile: rulesFile}
		c, err := p.start(ctx, publicURL, port, append([]string{"--session-cache-ttl", cacheTTL}, extra...)...)
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, c.stop)
		return c, nil
	}
	if st.cached, err = newProxy(cachedURL, cachedPort, "1s"); err != nil {
		return nil, err
	}
	if st.uncached, err = newProxy(uncachedURL, uncachedPort, "0"); err != nil {
		return nil, err
	}
	if st.quiet, err = newProxy(quietURL, quietPort, "1s", "--log-level", "warn"); err != nil {
		return nil, err
	}
	if so.sessions > 0 {
		// Configured for its set: every seeded session stays cached for the
		// row (60 s), and both caches hold them all.
		st.spreadEntries = so.sessions + (so.sessions+9)/10
		n := strconv.Itoa(st.spreadEntries)
		if st.spread, err = newProxy(spreadURL, spreadPort, "60s", "--session-cache-entries", n, "--token-cache-entries", n); err != nil {
			return nil, err
		}
	}
	if so.peerBin != "" {
		if st.peer, err = startOAuth2Proxy(ctx, so.peerBin, peerURL, peerPort, idpURL, st.redis.Addr()); err != nil {
			return nil, err
		}
		st.closers = append(st.closers, st.peer.stop)
	}

	rdb := newRedisClient(st.redis.Addr())
	st.rdb = rdb
	st.closers = append(st.closers, func() { _ = rdb.Close() })

	if st.cookie, err = login(ctx, cachedURL, cookieName, "admin@example.com"); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	// The access-token rule hands back the session's FusionAuth token.
	req := authzRequest(cachedURL, "/branches/1/products")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: st.cookie})
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	_ = resp.Body.Close()
	tok, ok := strings.CutPrefix(resp.Header.Get("Authorization"), "Bearer ")
	if resp.StatusCode != http.StatusOK || !ok {
		return nil, fmt.Errorf("access token via /branches/1/products: status %d", resp.StatusCode)
	}
	st.accessTok = tok

	// The bare GET uses authproxy's client options and a value of the size
	// of admin's sealed session record.
	if st.recordLen, err = sessionRecordLen(ctx, rdb); err != nil {
		return nil, err
	}
	if err := rdb.Set(ctx, bareKey, strings.Repeat("x", int(st.recordLen)), 0).Err(); err != nil {
		return nil, err
	}
	st.bareRedis = serve(bareRedisLn, bareRedisURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := rdb.Get(r.Context(), bareKey).Bytes(); err != nil {
			http.Error(w, "redis", http.StatusServiceUnavailable)
			return
		}
		bareOK(w, r)
	}))
	st.closers = append(st.closers, st.bareRedis.close)

	// bare-decision answers what authproxy answers the cached-session request.
	areq := authzRequest(cachedURL, "/admin/users")
	areq.AddCookie(&http.Cookie{Name: cookieName, Value: st.cookie})
	if st.answer, err = captureAnswer(ctx, areq); err != nil {
		return nil, err
	}
	st.bareDecision = serve(bareDecisionLn, bareDecisionURL, st.answer)
	st.closers = append(st.closers, st.bareDecision.close)

	if st.peer != nil {
		if st.peerCookie, err = login(ctx, peerURL, oauth2ProxyCookie, "admin@example.com"); err != nil {
			return nil, fmt.Errorf("oauth2-proxy login: %w", err)
		}
	}
	if so.nginxBin != "" {
		peerAddr := ""
		if st.peer != nil {
			peerAddr = strings.TrimPrefix(peerURL, "http://")
		}
		if st.front, err = startNginx(ctx, so.nginxBin, filepath.Join(dir, "nginx"), strings.TrimPrefix(st.bare.url, "http://"),
			strings.TrimPrefix(cachedURL, "http://"), peerAddr, so.keepalive); err != nil {
			return nil, err
		}
		st.closers = append(st.closers, st.front.proc.stop)
	}
	if so.sessions > 0 {
		if err := st.seed(ctx, seedBin, dir, so.sessions); err != nil {
			return nil, err
		}
		st.spreadRSS0 = st.spread.rss()
	}
	return st, nil
}

// proxySpec is what every authproxy of a run shares.
type proxySpec struct {
	bin, cookieSecret, idpURL, redisAddr, rulesFile string
}

// start runs one authproxy on port and waits until it is ready.
func (p proxySpec) start(ctx context.Context, publicURL string, port int, extra ...string) (*child, error) {
	// Secrets through the environment, as a deployment would pass them.
	env := []string{
		"AUTHPROXY_CLIENT_SECRET=" + devidp.DefaultClientSecret,
		"AUTHPROXY_COOKIE_SECRET=" + p.cookieSecret,
	}
	args := []string{"--listen", "127.0.0.1:" + strconv.Itoa(port),
		"--public-url", publicURL,
		"--fusionauth-url", p.idpURL,
		"--client-id", devidp.DefaultClientID,
		"--redis-addrs", p.redisAddr,
		"--cookie-name", cookieName,
		"--dev-mode",
		"--rules-file", p.rulesFile,
	}
	c, err := startChild(ctx, p.bin, env, append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	c.url = publicURL
	if err := testkit.Poll(ctx, publicURL+"/readyz", 15*time.Second, 10*time.Millisecond, func(ctx context.Context) error { return testkit.HTTPOK(ctx, nil, publicURL+"/readyz") }); err != nil {
		c.stop()
		return nil, fmt.Errorf("authproxy not ready: %w\n%s", err, c.output())
	}
	return c, nil
}

// authzRequest is a Traefik-style forward-auth request for uri on app.example.
func authzRequest(proxyURL, uri string) *http.Request {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, proxyURL+"/authz", nil)
	for k, v := range forwardHeaders(uri) {
		req.Header.Set(k, v)
	}
	return req
}

func forwardHeaders(uri string) map[string]string {
	return map[string]string{
		"X-Forwarded-Method": "GET",
		"X-Forwarded-Proto":  "https",
		"X-Forwarded-Host":   "app.example",
		"X-Forwarded-Uri":    uri,
		"Accept":             "application/json",
	}
}

// login runs the browser flow (authproxy /oauth2/start -> devidp login form
// -> /oauth2/callback) with a cookie jar and returns the session cookie.
func login(ctx context.Context, proxyURL, cookieName, email string) (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp, nil
	}
	resp, err := get(proxyURL + "/oauth2/start?rd=%2F")
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("/oauth2/start: status %d", resp.StatusCode)
	}
	if resp, _, err = devlogin.Login(ctx, c, resp.Header.Get("Location"), email); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("login form: status %d", resp.StatusCode)
	}
	if resp, err = get(resp.Header.Get("Location")); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("callback: status %d", resp.StatusCode)
	}
	pu, _ := url.Parse(proxyURL)
	for _, ck := range jar.Cookies(pu) {
		if ck.Name == cookieName && ck.Value != "" {
			return ck.Value, nil
		}
	}
	return "", errors.New("no session cookie after the callback")
}

// quiet keeps go-redis's own retry logging out of the report.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
