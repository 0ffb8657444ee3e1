package server

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestForgedAndTamperedCookies: only a cookie minted by a login opens a
// session.
func TestForgedAndTamperedCookies(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{fakeIdP: true})
	p := ps[0]
	good, _ := e.sessionFor("admin@example.com")
	id, secret, _ := strings.Cut(good, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[5] == 'A' {
			b[5] = 'B'
		} else {
			b[5] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name   string
		cookie string
	}{
		{name: "random well-formed", cookie: randomString() + "." + randomString()},
		{name: "tampered secret", cookie: id + "." + flip(secret)},
		{name: "tampered id", cookie: flip(id) + "." + secret},
		{name: "id only", cookie: id},
		{name: "swapped halves", cookie: secret + "." + id},
		{name: "malformed", cookie: "admin"},
		{name: "oversized", cookie: strings.Repeat("A", 4000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := fwd{uri: "/admin/x", cookie: tt.cookie, accept: jsonAccept}.send(t, p, dialectForwarded)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Authorization") != "" {
				t.Fatalf("forged cookie: %d %s", resp.StatusCode, body)
			}
		})
	}
	// The genuine cookie still works after all that.
	if resp, body := (fwd{uri: "/admin/x", cookie: good}).send(t, p, dialectForwarded); resp.StatusCode != http.StatusOK {
		t.Fatalf("genuine cookie: %d %s", resp.StatusCode, body)
	}
}

// TestSessionFixation: a session cookie planted before login (even a valid
// session of the attacker) is not adopted and is ended by the login.
func TestSessionFixation(t *testing.T) {
	t.Parallel()
	_, ps := newEnv(t, envOpts{})
	p := ps[0]
	attacker, _ := loggedIn(t, p, "customer@example.com")
	victim := newBrowser(t)
	pu, _ := url.Parse(p.url)
	victim.jar.SetCookies(pu, []*http.Cookie{{Name: "gw_session", Value: attacker, Path: "/"}})
	victim.login(p, "admin@example.com", "/")
	got := victim.session(p)
	if got == "" || got == attacker {
		t.Fatalf("session id after login = planted one")
	}
	if resp, _ := (fwd{uri: "/admin/x", cookie: got}).send(t, p, dialectForwarded); resp.StatusCode != http.StatusOK {
		t.Fatalf("victim's new session: %d", resp.StatusCode)
	}
	resp, _ := fwd{uri: "/admin/x", cookie: attacker, accept: jsonAccept}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("planted cookie after victim's login: %d, want 401", resp.StatusCode)
	}
}

// TestCallbackAttacks: state replay, a state from another browser, PKCE
// verifier mismatch (code injection) and nonce mismatch all fail, and none
// leaves a session behind.
func TestCallbackAttacks(t *testing.T) {
	t.Parallel()
	_, ps := newEnv(t, envOpts{})
	p := ps[0]

	t.Run("state replay", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		cb := b.idpLogin(b.startLogin(p, "/"), "customer@example.com")
		sealed := b.loginCookies(p)
		if len(sealed) != 1 {
			t.Fatalf("login-state cookies %v; want one", sealed)
		}
		if resp, body := b.get(cb); resp.StatusCode != http.StatusFound {
			t.Fatalf("first callback: %d %s", resp.StatusCode, body)
		}
		if got := b.loginCookies(p); len(got) != 0 {
			t.Fatalf("callback left login-state cookies %v", got)
		}
		first := b.session(p)
		// Put the state cookie back (a copy kept by the attacker) so only
		// the single-use check stands.
		b.jar.SetCookies(must(url.Parse(p.url)), sealed)
		resp, body := b.get(cb)
		assertLoginFailed(t, resp, body)
		if b.session(p) != first {
			t.Errorf("replayed callback changed the session")
		}
		// Refused by the single-use check itself, before the IdP (which
		// would refuse the spent code too) is asked.
		if m := scrape(t, p); !strings.Contains(m, `authproxy_logins_total{outcome="state_unknown"} 1`) {
			t.Errorf("replay not refused as a used state")
		}
	})
	t.Run("state from another browser", func(t *testing.T) {
		t.Parallel()
		victim, attacker := newBrowser(t), newBrowser(t)
		cb := attacker.idpLogin(attacker.startLogin(p, "/"), "customer@example.com")
		resp, body := victim.get(cb) // login CSRF: attacker's code in the victim's browser
		assertLoginFailed(t, resp, body)
		if victim.session(p) != "" {
			t.Errorf("victim got a session")
		}
	})
	t.Run("PKCE verifier mismatch", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		authA := b.startLogin(p, "/")
		cbA := b.idpLogin(authA, "customer@example.com") // code bound to A's challenge
		authB := b.startLogin(p, "/")                    // B's state, verifier, and the bound cookie
		stateB := must(url.Parse(authB)).Query().Get("state")
		u := must(url.Parse(cbA))
		q := u.Query()
		q.Set("state", stateB)
		u.RawQuery = q.Encode()
		resp, body := b.get(u.String())
		assertLoginFailed(t, resp, body)
		if b.session(p) != "" {
			t.Errorf("session created despite PKCE mismatch")
		}
	})
	t.Run("nonce mismatch", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		authURL := b.startLogin(p, "/")
		// The attacker re-sends the authorization request with the victim's
		// PKCE challenge and state but their own nonce.
		u := must(url.Parse(authURL))
		q := u.Query()
		q.Set("nonce", "attacker-nonce")
		u.RawQuery = q.Encode()
		cb := b.idpLogin(u.String(), "customer@example.com")
		resp, body := b.get(cb)
		assertLoginFailed(t, resp, body)
		if b.session(p) != "" {
			t.Errorf("session created despite nonce mismatch")
		}
	})
	t.Run("missing parameters and IdP error", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		for _, q := range []string{"", "?code=x", "?state=x", "?error=access_denied&state=x"} {
			resp, body := b.get(p.url + "/oauth2/callback" + q)
			assertLoginFailed(t, resp, body)
		}
	})
}

func assertLoginFailed(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error":"login_failed"`) {
		t.Fatalf("callback: %d %s, want 400 login_failed", resp.StatusCode, body)
	}
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "gw_session=") {
			t.Fatalf("failed callback sets a session cookie: %s", c)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestReturnURLAttacks: /oauth2/start refuses every open redirect.
func TestReturnURLAttacks(t *testing.T) {
	t.Parallel()
	_, ps := newEnv(t, envOpts{fakeIdP: true, cfg: func(c *config.Config) { c.AllowedRedirectHosts = []string{"shop.example"} }})
	p := ps[0]
	tests := []struct {
		name string
		rd   string
		ok   bool
	}{
		{name: "relative", rd: "/products?x=1", ok: true},
		{name: "allow-listed host", rd: "https://shop.example/cart", ok: true},
		{name: "public origin", rd: p.url + "/x", ok: true},
		{name: "scheme-relative", rd: "//evil.example"},
		{name: "absolute foreign", rd: "https://evil.example"},
		{name: "backslash", rd: `/\evil.example`},
		{name: "encoded slashes", rd: "%2F%2Fevil.example"},
		{name: "javascript", rd: "javascript:alert(1)"},
		{name: "data", rd: "data:text/html,x"},
		{name: "userinfo trick", rd: "https://shop.example@evil.example/"},
		{name: "tab trick", rd: "/\t/evil.example"},
		{name: "encoded double slash path", rd: "/%2F/evil.example"},
		{name: "relative without slash", rd: "evil.example"},
		{name: "allow-listed suffix", rd: "https://evil-shop.example/"},
		{name: "allow-listed as subdomain of evil", rd: "https://shop.example.evil.example/"},
		{name: "ftp", rd: "ftp://shop.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := newBrowser(t).get(p.url + "/oauth2/start?rd=" + url.QueryEscape(tt.rd))
			if tt.ok {
				if resp.StatusCode != http.StatusFound {
					t.Fatalf("rd %q refused: %d %s", tt.rd, resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("rd %q: %d Location %q, want 400", tt.rd, resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

// TestUntrustedPeer: forwarded headers from outside the trusted networks
// are refused with 403 and logged, however good the credential.
func TestUntrustedPeer(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{fakeIdP: true})
	p := ps[0]
	admin, _ := e.sessionFor("admin@example.com")
	// 127.0.0.2 is loopback but outside the trusted 127.0.0.1/32.
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second,
	}).DialContext}}
	t.Cleanup(client.CloseIdleConnections)
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		for _, uri := range []string{"/products", "/admin/x"} {
			req := fwd{uri: uri, cookie: admin, headers: map[string]string{"X-Forwarded-For": "127.0.0.1"}}.request(t, p, dialect)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Authorization") != "" {
				t.Errorf("%s %s from untrusted peer: %d", dialect, uri, resp.StatusCode)
			}
		}
	}
	testkit.WaitFor(t, "untrusted peer log", func() bool {
		return strings.Contains(e.logs.String(), `"outcome":"untrusted_peer"`) && strings.Contains(e.logs.String(), `"peer":"127.0.0.2"`)
	})
}

// TestEncodedPathDodging: no encoding or dot-segment trick reaches a
// protected path through the public rule.
func TestEncodedPathDodging(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{fakeIdP: true})
	p := ps[0]
	customer, _ := e.sessionFor("customer@example.com")
	tests := []struct {
		name   string
		uri    string
		status int
	}{
		{name: "dot segments", uri: "/products/../admin/x", status: 401},
		{name: "encoded dots", uri: "/products/%2e%2e/admin/x", status: 401},
		{name: "encoded letter", uri: "/%61dmin/x", status: 401},
		{name: "double slash", uri: "//admin/x", status: 401},
		{name: "trailing dot segment", uri: "/admin/x/.", status: 401},
		{name: "encoded slash", uri: "/products%2F..%2Fadmin/x", status: 400},
		{name: "backslash", uri: `/products/..\admin/x`, status: 400},
		{name: "encoded backslash", uri: "/products/..%5Cadmin", status: 400},
		{name: "semicolon", uri: "/products;/../admin/x", status: 401},
		{name: "inventory via catalog", uri: "/products/../branches/1/products", status: 401},
		{name: "encoded inventory", uri: "/%62ranches/1/products", status: 401},
		{name: "query does not count", uri: "/admin/x?/products/", status: 401},
	}
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		for _, tt := range tests {
			t.Run(dialect+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				resp, body := fwd{uri: tt.uri, accept: jsonAccept}.send(t, p, dialect)
				if resp.StatusCode != tt.status || resp.Header.Get("Authorization") != "" {
					t.Fatalf("%s: %d %s, want %d", tt.uri, resp.StatusCode, body, tt.status)
				}
				if tt.status == 401 {
					// Logged in as customer: the protected rule (not the
					// public one) decides, so 403 or 200 by role.
					resp, _ = fwd{uri: tt.uri, cookie: customer, accept: jsonAccept}.send(t, p, dialect)
					if resp.StatusCode != http.StatusForbidden {
						t.Fatalf("%s as customer: %d, want 403 from the protected rule", tt.uri, resp.StatusCode)
					}
				}
			})
		}
	}
}

// TestLogout: POST only, same origin only; afterwards the cookie (and the
// gateway token for it) no longer works.
func TestLogout(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{})
	p := ps[0]
	cookie, b := loggedIn(t, p, "customer@example.com")
	post := func(headers map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, p.url+"/oauth2/logout", nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		return b.do(req)
	}
	tests := []struct {
		name    string
		method  string
		headers map[string]string
		status  int
	}{
		{name: "GET refused", method: http.MethodGet, status: http.StatusMethodNotAllowed},
		{name: "foreign origin", method: http.MethodPost, headers: map[string]string{"Origin": "https://evil.example"}, status: http.StatusForbidden},
		{name: "null origin", method: http.MethodPost, headers: map[string]string{"Origin": "null"}, status: http.StatusForbidden},
		{name: "no origin no referer", method: http.MethodPost, status: http.StatusForbidden},
		{name: "foreign referer", method: http.MethodPost, headers: map[string]string{"Referer": "https://evil.example/" + p.url}, status: http.StatusForbidden},
	}
	for _, tt := range tests {
		var resp *http.Response
		var body string
		if tt.method == http.MethodGet {
			resp, body = b.get(p.url + "/oauth2/logout")
		} else {
			resp, body = post(tt.headers)
		}
		if resp.StatusCode != tt.status {
			t.Fatalf("%s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.status)
		}
		if r, _ := (fwd{uri: "/account/me", cookie: cookie}).send(t, p, dialectForwarded); r.StatusCode != http.StatusOK {
			t.Fatalf("%s ended the session (%d)", tt.name, r.StatusCode)
		}
	}
	if resp, _ := b.get(p.url + "/oauth2/logout"); resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("405 without Allow: POST")
	}

	resp, body := post(map[string]string{"Origin": p.url})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	// RP-initiated logout: client_id, the session's id_token as
	// id_token_hint, and the gateway as post_logout_redirect_uri.
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.idpURL+"/oauth2/logout" ||
		q.Get("client_id") != p.srv.cfg.ClientID || q.Get("post_logout_redirect_uri") != p.url+"/" {
		t.Errorf("Location %q, want the end_session_endpoint with client_id and post_logout_redirect_uri", loc)
	}
	if hint := q.Get("id_token_hint"); hint == "" {
		t.Errorf("Location %q has no id_token_hint", loc)
	} else if _, err := p.provider.VerifyIDToken(context.Background(), hint, jwtNonce(t, hint)); err != nil {
		t.Errorf("id_token_hint is not the session's id_token: %v", err)
	}
	if b.session(p) != "" {
		t.Errorf("cookie not cleared")
	}
	// The customer's cookie replayed after logout: no access, nothing minted.
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		resp, _ = fwd{uri: "/account/me", cookie: cookie, accept: jsonAccept}.send(t, p, dialect)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Authorization") != "" {
			t.Errorf("%s: replayed cookie after logout: %d", dialect, resp.StatusCode)
		}
	}
	resp, _ = fwd{uri: "/products", cookie: cookie}.send(t, p, dialectForwarded)
	claims, err := gatewayVerifier(t, p, "catalog").Verify(context.Background(), bearerOf(t, resp))
	if err != nil || claims.Subject != anonymous {
		t.Errorf("public rule after logout: sub %v err %v, want anonymous", claims, err)
	}
	// Referer-only same-origin logout also works (no Origin header).
	c2, b2 := loggedIn(t, p, "customer@example.com")
	req, _ := http.NewRequest(http.MethodPost, p.url+"/oauth2/logout", nil)
	req.Header.Set("Referer", p.url+"/")
	if resp, _ := b2.do(req); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin Referer logout: %d", resp.StatusCode)
	}
	if r, _ := (fwd{uri: "/account/me", cookie: c2, accept: jsonAccept}).send(t, p, dialectForwarded); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("session alive after Referer logout: %d", r.StatusCode)
	}
}

// TestNoSessionNeverAllows sends every combination of method, Accept,
// Sec-Fetch-*, X-Requested-With and malformed credentials through each
// dialect to session rules: none may answer 200 or carry a token.
func TestNoSessionNeverAllows(t *testing.T) {
	t.Parallel()
	_, ps := newEnv(t, envOpts{})
	p := ps[0]
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions}
	shapes := []map[string]string{
		{"Accept": htmlAccept, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "same-origin"},
		{"Accept": "*/*", "X-Requested-With": "XMLHttpRequest", "Sec-Fetch-Mode": "cors"},
		{"Accept": "application/json"},
		{},
	}
	creds := []map[string]string{
		{},
		{"Authorization": "Bearer"},
		{"Authorization": "Bearer "},
		{"Authorization": "bearer  eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
		{"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIyYTdmNmM0My01ZDBlLTRiNmEtOWMzMS0wZjFlMmQzYzRiNWEiLCJyb2xlcyI6WyJhZG1pbiJdfQ."},
		{"Authorization": "Basic YWRtaW46YWRtaW4tcGFzcw=="},
		{"Cookie": "gw_session="},
		{"Cookie": "gw_session=."},
		{"Cookie": "gw_session=admin; gw_session_login=x"},
		{"X-Auth-Request-User": adminID, "X-Forwarded-User": adminID, "X-Remote-User": adminID},
	}
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			for _, uri := range []string{"/admin/x", "/account/me"} {
				for _, m := range methods {
					for _, shape := range shapes {
						for _, cred := range creds {
							h := map[string]string{}
							for k, v := range shape {
								h[k] = v
							}
							for k, v := range cred {
								h[k] = v
							}
							resp, body := fwd{method: m, uri: uri, headers: h}.send(t, p, dialect)
							if resp.StatusCode < 300 || resp.Header.Get("Authorization") != "" {
								t.Errorf("%s %s %v: %d %s (Authorization %q)", m, uri, h, resp.StatusCode, body, resp.Header.Get("Authorization"))
							}
						}
					}
				}
			}
		})
	}
}
