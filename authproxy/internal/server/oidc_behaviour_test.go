package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// jwtNonce reads the nonce claim of a JWT (test helper; no verification).
func jwtNonce(t testing.TB, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Nonce
}

// TestRefreshRefusalEndsSession: any definitive 4xx error answer to a
// refresh, whatever its error code, ends the session and sends the user to
// log in (302 for a browser, 401 for an API client), never a 503 loop;
// only transient failures (5xx, 429, 408) keep the session and answer 503
// once the access token has expired.
func TestRefreshRefusalEndsSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		code    string
		wantEnd bool
	}{
		{name: "invalid_grant", status: 400, code: "invalid_grant", wantEnd: true},
		{name: "invalid_client 401", status: 401, code: "invalid_client", wantEnd: true},
		{name: "unauthorized_client", status: 400, code: "unauthorized_client", wantEnd: true},
		{name: "invalid_request", status: 400, code: "invalid_request", wantEnd: true},
		{name: "403 without a code", status: 403, wantEnd: true},
		{name: "404 token endpoint gone", status: 404, wantEnd: true},
		{name: "500", status: 500, code: "server_error"},
		{name: "503", status: 503},
		{name: "429", status: 429},
		{name: "408", status: 408},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := testkit.NewClock(time.Now())
			e, ps := newEnv(t, envOpts{now: clock.Now, idp: func(c *devidp.Config) { c.Now = clock.Now }})
			p := ps[0]
			cookie, _ := loggedIn(t, p, "customer@example.com")
			answer := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				if tc.code != "" {
					fmt.Fprintf(w, `{"error":%q,"error_description":"refused"}`, tc.code)
				} else {
					_, _ = w.Write([]byte(`{}`))
				}
			})
			e.tokenAnswer.Store(&answer)
			clock.Advance(59 * time.Minute) // inside the refresh window (idle timeout is 1h)
			resp, body := fwd{uri: "/account/me", cookie: cookie, accept: htmlAccept}.send(t, p, dialectForwarded)
			if tc.wantEnd {
				if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), startPath) {
					t.Fatalf("browser after a definitive refusal: %d %s, want 302 to login", resp.StatusCode, body)
				}
				if _, err := p.srv.fresh.Load(context.Background(), cookie); !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("session still stored: %v", err)
				}
				resp, _ = fwd{uri: "/account/me", cookie: cookie, accept: jsonAccept}.send(t, p, dialectForwarded)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("API client afterwards: %d, want 401", resp.StatusCode)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("transient refresh failure, token still valid: %d %s, want 200", resp.StatusCode, body)
			}
			clock.Advance(2 * time.Minute) // now past the access token's exp
			resp, body = fwd{uri: "/account/me", cookie: cookie, accept: htmlAccept}.send(t, p, dialectForwarded)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("transient refresh failure, token expired: %d %s, want 503", resp.StatusCode, body)
			}
			if _, err := p.srv.fresh.Load(context.Background(), cookie); err != nil {
				t.Fatalf("session lost on a transient failure: %v", err)
			}
		})
	}
}

// TestRefreshWindowClamped: a refresh window as long as the access-token
// lifetime would refresh on every request; it is clamped to half the
// lifetime, with a warning, so a fresh token is not refreshed at once.
func TestRefreshWindowClamped(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	e, ps := newEnv(t, envOpts{
		now: clock.Now,
		idp: func(c *devidp.Config) { c.Now = clock.Now; c.AccessTokenTTL = 10 * time.Minute },
		cfg: func(c *config.Config) { c.RefreshWindow = time.Hour },
	})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "customer@example.com")
	for range 5 {
		if resp, _ := (fwd{uri: "/account/me", cookie: cookie}).send(t, p, dialectForwarded); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		clock.Advance(time.Minute)
	}
	if n := e.idp.TokenRequests("refresh_token"); n != 0 {
		t.Fatalf("%d refreshes within the first half of the token's life, want 0", n)
	}
	if !strings.Contains(e.logs.String(), "refresh-window is not shorter than the provider's access-token lifetime") {
		t.Errorf("no warning about the clamped refresh window:\n%s", e.logs.String())
	}
	clock.Advance(time.Minute) // 6 of 10 minutes: inside the clamped 5-minute window
	if resp, _ := (fwd{uri: "/account/me", cookie: cookie}).send(t, p, dialectForwarded); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if n := e.idp.TokenRequests("refresh_token"); n != 1 {
		t.Fatalf("%d refreshes inside the clamped window, want 1", n)
	}
}

// TestCallbackFailurePage: a failed login shows the browser a page that says
// so (not a silent redirect to login again) and logs why.
func TestCallbackFailurePage(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{})
	p := ps[0]
	b := newBrowser(t)
	req, _ := http.NewRequest(http.MethodGet, p.url+callbackPath+"?error=access_denied&error_description=no&state=x", nil)
	req.Header.Set("Accept", htmlAccept)
	resp, body := b.do(req)
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "Login failed") || !strings.Contains(body, startPath) {
		t.Fatalf("callback error: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"msg":"login failed"`) || !strings.Contains(logs, "access_denied") {
		t.Errorf("login failure not logged with its reason:\n%s", logs)
	}
}

// TestBearerRefusalLogged: a refused bearer token (here an id_token) is
// logged with the reason at warn level, without the token.
func TestBearerRefusalLogged(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	idToken := loadSession(t, p, cookie).IDToken
	resp, _ := fwd{uri: "/branches/1/products", bearer: idToken, accept: jsonAccept}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("id_token as bearer: %d, want 401", resp.StatusCode)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"level":"WARN","msg":"bearer token refused"`) || !strings.Contains(logs, "id_token") {
		t.Errorf("refusal not logged at warn with its reason:\n%s", logs)
	}
	for i, part := range strings.Split(idToken, ".") {
		if strings.Contains(logs, part) {
			t.Errorf("log holds token segment %d", i)
		}
	}
}

// TestLogoutWithoutEndSession: a provider that announces no
// end_session_endpoint gets a local logout and a redirect to the gateway,
// never a made-up provider URL.
func TestLogoutWithoutEndSession(t *testing.T) {
	t.Parallel()
	_, ps := newEnv(t, envOpts{discovery: func(doc map[string]any) { delete(doc, "end_session_endpoint") }})
	p := ps[0]
	cookie, b := loggedIn(t, p, "customer@example.com")
	req, _ := http.NewRequest(http.MethodPost, p.url+"/oauth2/logout", nil)
	req.Header.Set("Origin", p.url)
	resp, body := b.do(req)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != p.url+"/" {
		t.Fatalf("logout: %d %q %s, want 303 to %s/", resp.StatusCode, resp.Header.Get("Location"), body, p.url)
	}
	if r, _ := (fwd{uri: "/account/me", cookie: cookie, accept: jsonAccept}).send(t, p, dialectForwarded); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("session alive after local logout: %d", r.StatusCode)
	}
}
