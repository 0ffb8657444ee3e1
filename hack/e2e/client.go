// Package e2e holds the end-to-end checks every gatewarden deployment must pass, whatever runs
// it: hack/stack's suite drives them through the local proxies (embedded Caddy, nginx, Debian's
// Caddy), hack/cluster's through Traefik in a real Kubernetes cluster. A Target says where the
// gateway and the identity provider are, how to reach them, and what else the deployment lets a
// test see (recorders in front of the services, the services' own ports).
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit/devlogin"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

const (
	acceptHTML = devlogin.AcceptHTML
	acceptJSON = "application/json"
)

// response is a read response.
type response struct {
	status int
	header http.Header
	body   []byte
	url    *url.URL // the final URL after redirects
}

func (r response) String() string {
	b := r.body
	if len(b) > 512 {
		b = b[:512]
	}
	return fmt.Sprintf("%d %s\n%s", r.status, r.url, b)
}

// NewClient returns a client for the target with its own cookie jar; follow chooses whether
// redirects are followed.
func (tg *Target) NewClient(t *testing.T, follow bool) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 15 * time.Second, Transport: tg.Transport}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// do sends a request with the given headers and reads the whole response.
func do(t *testing.T, c *http.Client, method, rawURL string, body io.Reader, header http.Header) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b, url: resp.Request.URL}
}

func get(t *testing.T, c *http.Client, rawURL string, header http.Header) response {
	t.Helper()
	return do(t, c, http.MethodGet, rawURL, nil, header)
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// marker is a unique query value that finds a request in a Recorder.
func marker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "e2e=" + hex.EncodeToString(b)
}

// User returns the dev IdP's user with the given email.
func User(t *testing.T, email string) devidp.User {
	t.Helper()
	u, err := devidp.DefaultUser(email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// login signs in through the gateway exactly as a browser does (start, the dev IdP's form,
// callback) and returns a client whose cookie jar holds the session. The client does not follow
// redirects afterwards.
func (tg *Target) Login(t *testing.T, email string) *http.Client {
	t.Helper()
	s := tg
	c := tg.NewClient(t, true)
	page := get(t, c, s.GatewayURL+"/oauth2/start?rd=%2F", hdr("Accept", acceptHTML))
	if page.status != http.StatusOK || !strings.HasPrefix(page.url.String(), s.IdPURL+"/oauth2/authorize") {
		t.Fatalf("login start: want the dev IdP's login form, got %v", page)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, body, err := devlogin.Submit(ctx, c, page.body, page.url, email)
	if err != nil {
		t.Fatal(err)
	}
	done := response{status: resp.StatusCode, header: resp.Header, body: body, url: resp.Request.URL}
	if done.status != http.StatusOK || done.url.String() != s.GatewayURL+"/" {
		t.Fatalf("login as %s: want to land on the gateway page, got %v", email, done)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// bearer returns the token of an "Authorization: Bearer" header, or "".
func bearer(h http.Header) string {
	tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return tok
}

// verifyToken verifies tok with the services' own middleware (jwtauth) for one issuer, JWKS and
// audience.
func (tg *Target) verifyToken(t *testing.T, issuer, jwksURL, audience, tok string) (*jwtauth.Claims, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := jwtauth.New(ctx, jwtauth.Config{
		Issuers:    []jwtauth.IssuerConfig{{Issuer: issuer, JWKSURL: jwksURL}},
		Audience:   audience,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: tg.Transport},
	})
	if err != nil {
		t.Fatalf("jwtauth: %v", err)
	}
	defer v.Close()
	return v.Verify(ctx, tok)
}

// gatewayClaims verifies a gateway token for audience against authproxy's JWKS.
func (tg *Target) gatewayClaims(t *testing.T, audience, tok string) *jwtauth.Claims {
	t.Helper()
	c, err := tg.verifyToken(t, tg.GatewayURL, tg.AuthProxyURL+"/.well-known/jwks.json", audience, tok)
	if err != nil {
		t.Fatalf("gateway token for %s does not verify: %v", audience, err)
	}
	return c
}

// forgedToken is a token a client made up: HS256 with its own secret, claiming to be an admin
// of every branch, for the given issuer and audience.
func forgedToken(t *testing.T, issuer, audience string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": issuer, "aud": audience, "sub": "2a7f6c43-5d0e-4b6a-9c31-0f1e2d3c4b5a",
		"roles": []string{"admin"}, "branches": []string{"1", "2"},
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
	}).SignedString([]byte("forged-secret"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// jsonBody decodes a JSON object body.
func jsonBody(t *testing.T, r response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%v", err, r)
	}
	return m
}
