package devidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// One key for the whole test binary: generating RSA keys is slow on shared CPUs.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

const (
	testRedirect = "http://127.0.0.1:4180/oauth2/callback"
	testLogout   = "http://127.0.0.1:4180/"
)

type fixture struct {
	t     *testing.T
	srv   *Server
	ts    *httptest.Server
	clock *testkit.Clock
	// http is the fixture's own client: with f.http, another
	// parallel test's httptest.Server.Close (which closes the default
	// transport's idle connections) could break a request in flight.
	http *http.Client
}

// start runs a devidp on 127.0.0.1 with the test key and clock; mutate adjusts the config.
func start(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock(time.Now().Truncate(time.Second))
	cfg := Config{
		Issuer:       "http://" + ln.Addr().String(),
		RedirectURIs: []string{testRedirect, "http://127.0.0.1:4180/other?x=1"},
		LogoutURIs:   []string{testLogout},
		SigningKey:   testKey(),
		Now:          clk.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	return &fixture{t: t, srv: srv, ts: ts, clock: clk, http: &http.Client{Transport: transport(t)}}
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Transport: transport(t), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// transport is a test's own HTTP transport, closed when the test ends.
func transport(t *testing.T) *http.Transport {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func pkce() (verifier, challenge string) {
	verifier = randomToken(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func authzParams(challenge string) url.Values {
	return url.Values{
		"client_id":             {DefaultClientID},
		"redirect_uri":          {testRedirect},
		"response_type":         {"code"},
		"scope":                 {"openid offline_access"},
		"state":                 {"st-123"},
		"nonce":                 {"n-456"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (f *fixture) get(c *http.Client, path string, q url.Values) response {
	f.t.Helper()
	u := f.ts.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return do(f.t, c, req)
}

func (f *fixture) post(c *http.Client, path string, form url.Values, basic bool) response {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
	}
	return do(f.t, c, req)
}

// login posts the login form and returns the redirect's query.
func (f *fixture) login(c *http.Client, params url.Values, email, password string) url.Values {
	f.t.Helper()
	form := url.Values{}
	for k, v := range params {
		form[k] = v
	}
	form.Set("loginId", email)
	form.Set("password", password)
	res := f.post(c, "/oauth2/authorize", form, false)
	if res.status != http.StatusFound {
		f.t.Fatalf("login %s: status %d, body %s", email, res.status, res.body)
	}
	return redirectQuery(f.t, res, testRedirect)
}

// redirectQuery checks that res redirects to want (scheme, host, path) and returns the query.
func redirectQuery(t *testing.T, res response, want string) url.Values {
	t.Helper()
	loc, err := url.Parse(res.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := url.Parse(want)
	if loc.Scheme != w.Scheme || loc.Host != w.Host || loc.Path != w.Path {
		t.Fatalf("Location = %q, want a redirect to %q", loc, want)
	}
	return loc.Query()
}

// tokens logs a user in with PKCE and exchanges the code.
func (f *fixture) tokens(email, password string) map[string]any {
	f.t.Helper()
	verifier, challenge := pkce()
	q := f.login(browser(f.t), authzParams(challenge), email, password)
	res := f.post(f.http, "/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {testRedirect}, "code_verifier": {verifier},
	}, true)
	if res.status != http.StatusOK {
		f.t.Fatalf("token: status %d, body %s", res.status, res.body)
	}
	return decode(f.t, res.body)
}

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return m
}

// verify checks a token against the server's published JWKS and returns header and claims.
func (f *fixture) verify(raw string) (map[string]any, jwt.MapClaims) {
	f.t.Helper()
	jwks := decode(f.t, f.get(f.http, "/.well-known/jwks.json", nil).body)
	keys := map[string]*rsa.PublicKey{}
	for _, k := range jwks["keys"].([]any) {
		m := k.(map[string]any)
		n, _ := base64.RawURLEncoding.DecodeString(m["n"].(string))
		e, _ := base64.RawURLEncoding.DecodeString(m["e"].(string))
		keys[m["kid"].(string)] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		return keys[t.Header["kid"].(string)], nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(f.clock.Now))
	if err != nil {
		f.t.Fatalf("verify with JWKS: %v", err)
	}
	return tok.Header, claims
}

func readTestdata(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, string(b))
}

// jsonType names the JSON type of a decoded value ("array<string>" for arrays).
func jsonType(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		if len(x) == 0 {
			return "array"
		}
		return "array<" + jsonType(x[0]) + ">"
	}
	return "?"
}

// sameShape reports keys missing, extra, or of another type in got compared with want.
func sameShape(t *testing.T, got, want map[string]any) {
	t.Helper()
	for k, wv := range want {
		gv, ok := got[k]
		switch {
		case !ok:
			t.Errorf("field %q missing", k)
		case jsonType(gv) != jsonType(wv):
			t.Errorf("field %q: type %s, want %s", k, jsonType(gv), jsonType(wv))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %q", k)
		}
	}
}
