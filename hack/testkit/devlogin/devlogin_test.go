package devlogin_test

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit/devlogin"
)

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-devlogin-test-verifier"

// idp runs a dev IdP for a client whose callback is an httptest server answering 200 "callback".
func idp(t *testing.T) (authorizeURL, callbackURL string) {
	t.Helper()
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("callback")) }))
	t.Cleanup(cb.Close)
	var idp http.Handler // set before the first request
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { idp.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	issuer := ts.URL
	srv, err := devidp.New(devidp.Config{Issuer: issuer, RedirectURIs: []string{cb.URL + "/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	idp = srv.Handler()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {devidp.DefaultClientID}, "redirect_uri": {cb.URL + "/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-1"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	return issuer + "/oauth2/authorize?" + q.Encode(), cb.URL + "/cb"
}

func noRedirects() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, email string
		wantErr     string
	}{
		{name: "admin", email: "admin@example.com"},
		{name: "email in another case", email: "Manager@Example.com"},
		{name: "not a default user", email: "nobody@example.com", wantErr: `no default user "nobody@example.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			authorizeURL, callbackURL := idp(t)
			resp, body, err := devlogin.Login(t.Context(), noRedirects(), authorizeURL, tt.email)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Login = %v, want an error saying %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), callbackURL+"?") ||
				loc.Query().Get("code") == "" || loc.Query().Get("state") != "st-1" {
				t.Fatalf("Login: %d Location %q, want a redirect to the callback with a code and the state\n%s", resp.StatusCode, loc, body)
			}
		})
	}
}

// TestSubmitFollowsTheClientsRedirects: with a client that follows redirects, Submit answers
// the page the login lands on.
func TestSubmitFollowsTheClientsRedirects(t *testing.T) {
	t.Parallel()
	authorizeURL, callbackURL := idp(t)
	c := &http.Client{}
	resp, err := c.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page strings.Builder
	if _, err := io.Copy(&page, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp, body, err := devlogin.Submit(t.Context(), c, []byte(page.String()), resp.Request.URL, "customer@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), callbackURL) || string(body) != "callback" {
		t.Fatalf("Submit landed on %d %s %q, want the callback's page", resp.StatusCode, resp.Request.URL, body)
	}
}

func TestLoginRefusesAnythingButTheLoginPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string
	}{
		{name: "error status", handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "broken", http.StatusBadRequest) },
			wantErr: "status 400, want 200: broken"},
		{name: "page without the form", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("<html><form id=other></form></html>"))
		},
			wantErr: "no login form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewServer(tt.handler)
			t.Cleanup(ts.Close)
			_, _, err := devlogin.Login(t.Context(), noRedirects(), ts.URL, "admin@example.com")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Login = %v, want an error saying %s", err, tt.wantErr)
			}
		})
	}
}
