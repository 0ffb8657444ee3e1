package devidp

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestDiscoveryMatchesFusionAuth(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	res := f.get(f.http, "/.well-known/openid-configuration", nil)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, content type %q", res.status, res.header.Get("Content-Type"))
	}
	got := decode(t, res.body)
	sameShape(t, got, readTestdata(t, "openid-configuration.json"))
	if got["issuer"] != f.ts.URL {
		t.Errorf("issuer = %v, want %s", got["issuer"], f.ts.URL)
	}
	for k, want := range map[string]string{
		"authorization_endpoint": "/oauth2/authorize", "token_endpoint": "/oauth2/token",
		"jwks_uri": "/.well-known/jwks.json", "userinfo_endpoint": "/oauth2/userinfo",
		"end_session_endpoint": "/oauth2/logout", "device_authorization_endpoint": "/oauth2/device_authorize",
	} {
		if got[k] != f.ts.URL+want {
			t.Errorf("%s = %v, want %s", k, got[k], f.ts.URL+want)
		}
	}
}

func TestJWKSPublishesOnlyTheRSAKey(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	jwks := decode(t, f.get(f.http, "/.well-known/jwks.json", nil).body)
	keys := jwks["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("%d keys, want 1", len(keys))
	}
	k := keys[0].(map[string]any)
	for field, want := range map[string]any{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": f.srv.KeyID()} {
		if k[field] != want {
			t.Errorf("%s = %v, want %v", field, k[field], want)
		}
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
		if _, ok := k[private]; ok {
			t.Errorf("JWKS publishes %q", private)
		}
	}
	tok := f.tokens("admin@example.com", "admin-pass")
	f.verify(tok["access_token"].(string)) // fails the test unless the JWKS key verifies it
}

func TestCodeFlowWithSSOAndLogout(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := browser(t)
	verifier, challenge := pkce()
	params := authzParams(challenge)

	res := f.get(c, "/oauth2/authorize", params)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		t.Fatalf("login page: status %d, type %q", res.status, res.header.Get("Content-Type"))
	}
	for _, want := range []string{`id="loginId" name="loginId"`, `id="password" name="password"`, `id="login-button"`,
		`action="/oauth2/authorize" method="post"`, `name="code_challenge" value="` + challenge + `"`, `name="state" value="st-123"`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	if res.header.Get("X-Frame-Options") != "DENY" || res.header.Get("Cache-Control") != "no-store" {
		t.Errorf("login page headers: %v", res.header)
	}

	// Wrong password: the form again, 200, with an error, and no redirect.
	form := url.Values{}
	for k, v := range params {
		form[k] = v
	}
	form.Set("loginId", "admin@example.com")
	form.Set("password", "wrong")
	res = f.post(c, "/oauth2/authorize", form, false)
	if res.status != http.StatusOK || res.header.Get("Location") != "" || !strings.Contains(res.body, "Invalid login credentials.") {
		t.Fatalf("wrong password: status %d, Location %q", res.status, res.header.Get("Location"))
	}

	q := f.login(c, params, "Admin@Example.com", "admin-pass")
	if q.Get("state") != "st-123" || q.Get("userState") != "Authenticated" || q.Get("code") == "" {
		t.Fatalf("callback query = %v", q)
	}
	res = f.post(f.http, "/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {testRedirect}, "code_verifier": {verifier},
	}, true)
	if res.status != http.StatusOK || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: status %d, Cache-Control %q, body %s", res.status, res.header.Get("Cache-Control"), res.body)
	}
	tok := decode(t, res.body)
	sameShape(t, tok, readTestdata(t, "token-response.authorization_code.json"))
	if tok["token_type"] != "Bearer" || tok["expires_in"] != 3600.0 || tok["scope"] != "openid offline_access" {
		t.Errorf("token response = %v", tok)
	}

	// SSO: a second authorize is answered at once.
	_, challenge2 := pkce()
	res = f.get(c, "/oauth2/authorize", authzParams(challenge2))
	if res.status != http.StatusFound || redirectQuery(t, res, testRedirect).Get("code") == "" {
		t.Fatalf("SSO authorize: status %d, Location %q", res.status, res.header.Get("Location"))
	}

	// Logout ends the SSO session and redirects to the allowed URL.
	res = f.get(c, "/oauth2/logout", url.Values{"client_id": {DefaultClientID}, "post_logout_redirect_uri": {testLogout}})
	if res.status != http.StatusFound || res.header.Get("Location") != testLogout {
		t.Fatalf("logout: status %d, Location %q", res.status, res.header.Get("Location"))
	}
	res = f.get(c, "/oauth2/authorize", authzParams(challenge2))
	if res.status != http.StatusOK || !strings.Contains(res.body, `id="login-button"`) {
		t.Fatalf("authorize after logout: status %d, want the login form", res.status)
	}

	// Logout revokes no refresh token, as in FusionAuth.
	res = f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true)
	if res.status != http.StatusOK {
		t.Fatalf("refresh after logout: status %d, body %s", res.status, res.body)
	}
}

func TestPromptNoneWithoutSession(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	_, challenge := pkce()
	p := authzParams(challenge)
	p.Set("prompt", "none")
	res := f.get(browser(t), "/oauth2/authorize", p)
	q := redirectQuery(t, res, testRedirect)
	if res.status != http.StatusFound || q.Get("error") != "login_required" || q.Get("code") != "" || q.Get("state") != "st-123" {
		t.Fatalf("status %d, query %v", res.status, q)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	_, challenge := pkce()
	tests := []struct {
		name       string
		change     func(url.Values)
		post       bool
		wantStatus int
		wantPage   string // error_reason on the error page (no redirect)
		wantError  string // error in the redirect
		wantReason string
	}{
		{name: "unknown client_id", change: func(v url.Values) { v.Set("client_id", "nope") }, wantStatus: 400, wantPage: "invalid_client_id"},
		{name: "missing client_id", change: func(v url.Values) { v.Del("client_id") }, wantStatus: 400, wantPage: "missing_client_id"},
		{name: "unregistered redirect_uri", change: func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, wantStatus: 400, wantPage: "invalid_redirect_uri"},
		{name: "redirect_uri prefix trick", change: func(v url.Values) { v.Set("redirect_uri", testRedirect+"/../evil") }, wantStatus: 400, wantPage: "invalid_redirect_uri"},
		{name: "redirect_uri with extra query", change: func(v url.Values) { v.Set("redirect_uri", testRedirect+"?x=1") }, wantStatus: 400, wantPage: "invalid_redirect_uri"},
		{name: "tampered hidden redirect_uri on POST", post: true, change: func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, wantStatus: 400, wantPage: "invalid_redirect_uri"},
		{name: "missing redirect_uri", change: func(v url.Values) { v.Del("redirect_uri") }, wantStatus: 400, wantPage: "missing_redirect_uri"},
		{name: "no PKCE", change: func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, wantStatus: 302, wantError: "invalid_request", wantReason: "invalid_pkce_code_challenge"},
		{name: "PKCE plain", change: func(v url.Values) { v.Set("code_challenge_method", "plain") }, wantStatus: 302, wantError: "invalid_request", wantReason: "invalid_pkce_code_challenge_method"},
		{name: "PKCE method missing", change: func(v url.Values) { v.Del("code_challenge_method") }, wantStatus: 302, wantError: "invalid_request", wantReason: "invalid_pkce_code_challenge_method"},
		{name: "malformed challenge", change: func(v url.Values) { v.Set("code_challenge", "short") }, wantStatus: 302, wantError: "invalid_request", wantReason: "invalid_pkce_code_challenge"},
		{name: "implicit flow", change: func(v url.Values) { v.Set("response_type", "token") }, wantStatus: 302, wantError: "unsupported_response_type", wantReason: "invalid_response_type"},
		{name: "form_post", change: func(v url.Values) { v.Set("response_mode", "form_post") }, wantStatus: 302, wantError: "invalid_request", wantReason: "invalid_response_mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := authzParams(challenge)
			tt.change(p)
			var res response
			if tt.post {
				p.Set("loginId", "admin@example.com")
				p.Set("password", "admin-pass")
				res = f.post(browser(t), "/oauth2/authorize", p, false)
			} else {
				res = f.get(browser(t), "/oauth2/authorize", p)
			}
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", res.status, tt.wantStatus, res.body)
			}
			if tt.wantPage != "" {
				if res.header.Get("Location") != "" || !strings.Contains(res.body, tt.wantPage) {
					t.Fatalf("want an error page naming %s, got Location %q body %s", tt.wantPage, res.header.Get("Location"), res.body)
				}
				if len(res.header.Values("Set-Cookie")) != 0 {
					t.Errorf("error page set a cookie")
				}
				return
			}
			q := redirectQuery(t, res, testRedirect)
			if q.Get("error") != tt.wantError || q.Get("error_reason") != tt.wantReason || q.Get("state") != "st-123" || q.Get("code") != "" {
				t.Fatalf("redirect query = %v", q)
			}
		})
	}
}

func TestRedirectURIKeepsItsQuery(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	_, challenge := pkce()
	p := authzParams(challenge)
	p.Set("redirect_uri", "http://127.0.0.1:4180/other?x=1")
	p.Set("loginId", "customer@example.com")
	p.Set("password", "customer-pass")
	res := f.post(browser(t), "/oauth2/authorize", p, false)
	q := redirectQuery(t, res, "http://127.0.0.1:4180/other")
	if q.Get("x") != "1" || q.Get("code") == "" {
		t.Fatalf("query = %v", q)
	}
}

func TestTokenCodeGrantErrors(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tests := []struct {
		name       string
		change     func(form url.Values, basic *bool)
		before     func(t *testing.T, code string, form url.Values) // runs before the request under test
		wantStatus int
		wantError  string
		wantReason string
	}{
		{name: "client_secret_post works", change: func(v url.Values, b *bool) {
			*b = false
			v.Set("client_id", DefaultClientID)
			v.Set("client_secret", DefaultClientSecret)
		}, wantStatus: 200},
		{name: "wrong verifier", change: func(v url.Values, _ *bool) { v.Set("code_verifier", randomToken(32)) }, wantStatus: 400, wantError: "invalid_grant", wantReason: "invalid_pkce_code_verifier"},
		{name: "missing verifier", change: func(v url.Values, _ *bool) { v.Del("code_verifier") }, wantStatus: 400, wantError: "invalid_grant", wantReason: "invalid_pkce_code_verifier"},
		{name: "code reuse", before: func(t *testing.T, _ string, v url.Values) {
			if res := f.post(f.http, "/oauth2/token", v, true); res.status != 200 {
				t.Errorf("first use: status %d", res.status)
			}
		}, wantStatus: 400, wantError: "invalid_grant", wantReason: "auth_code_not_found"},
		{name: "code burnt by a failed attempt", before: func(t *testing.T, code string, _ url.Values) {
			bad := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {randomToken(32)}}
			if res := f.post(f.http, "/oauth2/token", bad, true); res.status != 400 {
				t.Errorf("bad verifier: status %d", res.status)
			}
		}, wantStatus: 400, wantError: "invalid_grant", wantReason: "auth_code_not_found"},
		{name: "unknown code", change: func(v url.Values, _ *bool) { v.Set("code", randomToken(32)) }, wantStatus: 400, wantError: "invalid_grant", wantReason: "auth_code_not_found"},
		{name: "missing code", change: func(v url.Values, _ *bool) { v.Del("code") }, wantStatus: 400, wantError: "invalid_request", wantReason: "missing_code"},
		{name: "wrong redirect_uri", change: func(v url.Values, _ *bool) { v.Set("redirect_uri", "http://127.0.0.1:4180/other?x=1") }, wantStatus: 400, wantError: "invalid_grant", wantReason: "invalid_redirect_uri"},
		{name: "bad client secret", change: func(v url.Values, b *bool) {
			*b = false
			v.Set("client_id", DefaultClientID)
			v.Set("client_secret", "wrong")
		}, wantStatus: 401, wantError: "invalid_client", wantReason: "invalid_client_authentication"},
		{name: "unknown client", change: func(v url.Values, b *bool) {
			*b = false
			v.Set("client_id", "other")
			v.Set("client_secret", DefaultClientSecret)
		}, wantStatus: 401, wantError: "invalid_client", wantReason: "invalid_client_id"},
		{name: "no client authentication", change: func(_ url.Values, b *bool) { *b = false }, wantStatus: 401, wantError: "invalid_client", wantReason: "client_authentication_missing"},
		{name: "basic and body client_id disagree", change: func(v url.Values, _ *bool) { v.Set("client_id", "other") }, wantStatus: 400, wantError: "invalid_request", wantReason: "client_id_mismatch"},
		{name: "unsupported grant", change: func(v url.Values, _ *bool) { v.Set("grant_type", "password") }, wantStatus: 400, wantError: "unsupported_grant_type", wantReason: "invalid_grant_type"},
		{name: "missing grant", change: func(v url.Values, _ *bool) { v.Del("grant_type") }, wantStatus: 400, wantError: "invalid_request", wantReason: "missing_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			verifier, challenge := pkce()
			code := f.login(browser(t), authzParams(challenge), "customer@example.com", "customer-pass").Get("code")
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {verifier}}
			basic := true
			if tt.before != nil {
				tt.before(t, code, form)
			}
			if tt.change != nil {
				tt.change(form, &basic)
			}
			res := f.post(f.http, "/oauth2/token", form, basic)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", res.status, tt.wantStatus, res.body)
			}
			if tt.wantStatus == 200 {
				return
			}
			body := decode(t, res.body)
			sameShape(t, body, map[string]any{"error": "", "error_description": "", "error_reason": ""})
			if body["error"] != tt.wantError || body["error_reason"] != tt.wantReason {
				t.Fatalf("body = %v", body)
			}
			if tt.wantStatus == 401 && res.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

func TestExpiredCode(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	verifier, challenge := pkce()
	code := f.login(browser(t), authzParams(challenge), "customer@example.com", "customer-pass").Get("code")
	f.clock.Advance(DefaultCodeTTL)
	res := f.post(f.http, "/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {verifier},
	}, true)
	if body := decode(t, res.body); res.status != 400 || body["error_reason"] != "auth_code_not_found" {
		t.Fatalf("status %d, body %v", res.status, body)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rotate bool
	}{
		{name: "reusable refresh token", rotate: false},
		{name: "one-time-use rotation", rotate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, func(c *Config) { c.RotateRefreshTokens = tt.rotate })
			first := f.tokens("manager@example.com", "manager-pass")
			_, firstClaims := f.verify(first["access_token"].(string))
			f.clock.Advance(10 * time.Minute)
			rt := first["refresh_token"].(string)
			refresh := func(token string) response {
				return f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}, true)
			}
			res := refresh(rt)
			if res.status != http.StatusOK {
				t.Fatalf("refresh: status %d, body %s", res.status, res.body)
			}
			got := decode(t, res.body)
			want := readTestdata(t, "token-response.refresh_token.json")
			if tt.rotate {
				want["refresh_token"], want["refresh_token_id"] = "", ""
			}
			sameShape(t, got, want)
			header, claims := f.verify(got["access_token"].(string))
			if !slices.Equal(toStrings(header["gty"]), []string{"refresh_token"}) || claims["authenticationType"] != "REFRESH_TOKEN" {
				t.Errorf("gty %v, authenticationType %v", header["gty"], claims["authenticationType"])
			}
			if claims["auth_time"] != firstClaims["auth_time"] || claims["iat"] == firstClaims["iat"] {
				t.Errorf("auth_time %v (was %v), iat %v (was %v)", claims["auth_time"], firstClaims["auth_time"], claims["iat"], firstClaims["iat"])
			}
			if !slices.Equal(toStrings(claims["branches"]), []string{"1"}) {
				t.Errorf("branches = %v", claims["branches"])
			}
			again := refresh(rt)
			if !tt.rotate {
				if again.status != http.StatusOK || claims["sid"] != first["refresh_token_id"] {
					t.Fatalf("reuse: status %d; sid %v, refresh_token_id %v", again.status, claims["sid"], first["refresh_token_id"])
				}
				return
			}
			if body := decode(t, again.body); again.status != 400 || body["error"] != "invalid_grant" || body["error_reason"] != "refresh_token_not_found" {
				t.Fatalf("old token after rotation: status %d, body %v", again.status, body)
			}
			newRT := got["refresh_token"].(string)
			if newRT == rt || claims["sid"] != got["refresh_token_id"] {
				t.Errorf("rotated token %q, sid %v, refresh_token_id %v", newRT, claims["sid"], got["refresh_token_id"])
			}
			if res := refresh(newRT); res.status != http.StatusOK {
				t.Fatalf("rotated token: status %d", res.status)
			}
			if n := f.srv.TokenRequests("refresh_token"); n != 3 {
				t.Errorf("TokenRequests(refresh_token) = %d, want 3", n)
			}
			if n := f.srv.TokenRequests("authorization_code"); n != 1 {
				t.Errorf("TokenRequests(authorization_code) = %d, want 1", n)
			}
		})
	}
}

func TestRefreshTokenRevokedOrExpired(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spoil func(t *testing.T, f *fixture, userID string)
	}{
		{name: "revoked", spoil: func(t *testing.T, f *fixture, userID string) {
			if n := f.srv.RevokeRefreshTokens(userID); n != 1 {
				t.Errorf("revoked %d tokens, want 1", n)
			}
		}},
		{name: "expired", spoil: func(_ *testing.T, f *fixture, _ string) { f.clock.Advance(DefaultRefreshTokenTTL) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, nil)
			tok := f.tokens("customer@example.com", "customer-pass")
			tt.spoil(t, f, tok["userId"].(string))
			res := f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true)
			if body := decode(t, res.body); res.status != 400 || body["error"] != "invalid_grant" || body["error_reason"] != "refresh_token_not_found" {
				t.Fatalf("status %d, body %v", res.status, body)
			}
		})
	}
}

func TestNoRefreshTokenWithoutOfflineAccess(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	verifier, challenge := pkce()
	p := authzParams(challenge)
	p.Set("scope", "openid")
	code := f.login(browser(t), p, "admin@example.com", "admin-pass").Get("code")
	res := f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {verifier}}, true)
	tok := decode(t, res.body)
	if _, ok := tok["refresh_token"]; ok || tok["id_token"] == nil {
		t.Fatalf("token response = %v", tok)
	}
	if _, claims := f.verify(tok["access_token"].(string)); claims["sid"] != nil {
		t.Errorf("sid without a refresh token: %v", claims["sid"])
	}
}

func TestClaimsPerUser(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tests := []struct {
		email, password, name string
		roles, branches       []string // nil roles = not registered
	}{
		{email: "admin@example.com", password: "admin-pass", name: "Ada Admin", roles: []string{"admin"}},
		{email: "manager@example.com", password: "manager-pass", name: "Max Manager", roles: []string{"branch-manager"}, branches: []string{"1"}},
		{email: "customer@example.com", password: "customer-pass", name: "Cleo Customer", roles: []string{"user"}},
		{email: "outsider@example.com", password: "outsider-pass", name: "Otto Outsider"},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			t.Parallel()
			verifier, challenge := pkce()
			q := f.login(browser(t), authzParams(challenge), tt.email, tt.password)
			wantState := "Authenticated"
			if tt.roles == nil {
				wantState = "AuthenticatedNotRegistered"
			}
			if q.Get("userState") != wantState {
				t.Errorf("userState = %q, want %q", q.Get("userState"), wantState)
			}
			res := f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {testRedirect}, "code_verifier": {verifier}}, true)
			tok := decode(t, res.body)
			at := tok["access_token"].(string)
			header, c := f.verify(at)
			if header["typ"] != "JWT" || header["kid"] != f.srv.KeyID() || !slices.Equal(toStrings(header["gty"]), []string{"authorization_code"}) {
				t.Errorf("access token header = %v", header)
			}
			now := float64(f.clock.Now().Unix())
			for k, want := range map[string]any{
				"aud": DefaultClientID, "iss": f.ts.URL, "sub": tok["userId"], "tid": DefaultTenantID,
				"authenticationType": "PASSWORD", "scope": "openid offline_access", "sid": tok["refresh_token_id"],
				"iat": now, "exp": now + 3600, "auth_time": now,
			} {
				if c[k] != want {
					t.Errorf("access token %s = %v, want %v", k, c[k], want)
				}
			}
			if c["jti"] == nil || c["nbf"] != nil || c["email"] != nil {
				t.Errorf("access token jti %v, nbf %v, email %v", c["jti"], c["nbf"], c["email"])
			}
			if tt.roles == nil {
				if _, ok := c["roles"]; ok {
					t.Errorf("unregistered user has roles %v", c["roles"])
				}
				if _, ok := c["applicationId"]; ok {
					t.Errorf("unregistered user has applicationId")
				}
			} else if !slices.Equal(toStrings(c["roles"]), tt.roles) || c["applicationId"] != DefaultClientID {
				t.Errorf("roles %v applicationId %v", c["roles"], c["applicationId"])
			}
			if !slices.Equal(toStrings(c["branches"]), tt.branches) {
				t.Errorf("branches = %v, want %v", c["branches"], tt.branches)
			}

			idHeader, id := f.verify(tok["id_token"].(string))
			if _, ok := idHeader["gty"]; ok {
				t.Errorf("id_token header has gty")
			}
			sum := sha256.Sum256([]byte(at))
			for k, want := range map[string]any{
				"aud": DefaultClientID, "iss": f.ts.URL, "sub": tok["userId"], "nonce": "n-456", "email": tt.email,
				"name": tt.name, "auth_time": now, "at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]), "email_verified": true,
			} {
				if id[k] != want {
					t.Errorf("id_token %s = %v, want %v", k, id[k], want)
				}
			}
			for _, k := range []string{"roles", "applicationId", "branches", "nbf"} {
				if _, ok := id[k]; ok {
					t.Errorf("id_token carries %s", k)
				}
			}
		})
	}
}

func toStrings(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestUserinfo(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tok := f.tokens("admin@example.com", "admin-pass")
	at := tok["access_token"].(string)
	hs256 := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": f.ts.URL, "sub": tok["userId"], "exp": time.Now().Add(time.Hour).Unix()})
	hs256.Header["kid"] = f.srv.KeyID()
	hs256.Header["gty"] = []string{"authorization_code"}
	forged, err := hs256.SignedString(f.srv.PublicKey().N.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		auth       string
		method     string
		advance    time.Duration
		wantStatus int
	}{
		{name: "GET with access token", auth: "Bearer " + at, method: http.MethodGet, wantStatus: 200},
		{name: "POST with access token", auth: "bearer " + at, method: http.MethodPost, wantStatus: 200},
		{name: "no token", method: http.MethodGet, wantStatus: 401},
		{name: "id_token is not an access token", auth: "Bearer " + tok["id_token"].(string), method: http.MethodGet, wantStatus: 401},
		{name: "HS256 signed with the public key", auth: "Bearer " + forged, method: http.MethodGet, wantStatus: 401},
		{name: "tampered", auth: "Bearer " + at[:len(at)-4] + "AAAA", method: http.MethodGet, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(tt.method, f.ts.URL+"/oauth2/userinfo", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			res := do(t, f.http, req)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			body := decode(t, res.body)
			if tt.wantStatus != 200 {
				if res.header.Get("WWW-Authenticate") == "" || body["error"] == nil {
					t.Errorf("401 without WWW-Authenticate or error: %v", body)
				}
				return
			}
			want := map[string]any{"sub": tok["userId"], "email": "admin@example.com", "email_verified": true, "name": "Ada Admin"}
			sameShape(t, body, want)
			for k, v := range want {
				if body[k] != v {
					t.Errorf("%s = %v, want %v", k, body[k], v)
				}
			}
		})
	}
}

func TestUserinfoExpiredToken(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	at := f.tokens("admin@example.com", "admin-pass")["access_token"].(string)
	f.clock.Advance(DefaultAccessTokenTTL + time.Second)
	req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	res := do(t, f.http, req)
	if body := decode(t, res.body); res.status != 401 || body["error_reason"] != "access_token_expired" {
		t.Fatalf("status %d, body %v", res.status, body)
	}
}

func TestIntrospect(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tok := f.tokens("admin@example.com", "admin-pass")
	tests := []struct {
		name       string
		token      string
		basic      bool
		wantStatus int
		wantActive bool
	}{
		{name: "access token", token: tok["access_token"].(string), basic: true, wantStatus: 200, wantActive: true},
		{name: "garbage", token: "not-a-jwt", basic: true, wantStatus: 200},
		{name: "id_token", token: tok["id_token"].(string), basic: true, wantStatus: 200},
		{name: "refresh token", token: tok["refresh_token"].(string), basic: true, wantStatus: 200},
		{name: "no client authentication", token: tok["access_token"].(string), wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := f.post(f.http, "/oauth2/introspect", url.Values{"token": {tt.token}}, tt.basic)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			if tt.wantStatus != 200 {
				return
			}
			body := decode(t, res.body)
			if !tt.wantActive {
				sameShape(t, body, map[string]any{"active": false})
				if body["active"] != false {
					t.Fatalf("body = %v", body)
				}
				return
			}
			ref := readTestdata(t, "introspect-response.active.json")
			for k, v := range ref {
				if jsonType(body[k]) != jsonType(v) {
					t.Errorf("%s: type %s, want %s", k, jsonType(body[k]), jsonType(v))
				}
			}
			// Seconds, as in the JWT (the documentation's old sample uses milliseconds).
			if body["active"] != true || body["exp"] != float64(f.clock.Now().Add(time.Hour).Unix()) || body["email"] != "admin@example.com" {
				t.Errorf("body = %v", body)
			}
		})
	}
}

func TestLogoutRedirects(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	tests := []struct {
		name         string
		query        url.Values
		wantStatus   int
		wantLocation string
	}{
		{name: "logout URL", query: url.Values{"client_id": {DefaultClientID}, "post_logout_redirect_uri": {testLogout}}, wantStatus: 302, wantLocation: testLogout},
		{name: "authorized redirect URL", query: url.Values{"client_id": {DefaultClientID}, "post_logout_redirect_uri": {testRedirect}}, wantStatus: 302, wantLocation: testRedirect},
		{name: "state echoed", query: url.Values{"client_id": {DefaultClientID}, "post_logout_redirect_uri": {testLogout}, "state": {"s1"}}, wantStatus: 302, wantLocation: testLogout + "?state=s1"},
		{name: "default logout URL", query: url.Values{"client_id": {DefaultClientID}}, wantStatus: 302, wantLocation: testLogout},
		{name: "open redirect refused", query: url.Values{"client_id": {DefaultClientID}, "post_logout_redirect_uri": {"https://evil.example/"}}, wantStatus: 400},
		{name: "scheme-relative refused", query: url.Values{"client_id": {DefaultClientID}, "post_logout_redirect_uri": {"//evil.example/"}}, wantStatus: 400},
		{name: "wrong client", query: url.Values{"client_id": {"other"}, "post_logout_redirect_uri": {testLogout}}, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := f.get(browser(t), "/oauth2/logout", tt.query)
			if res.status != tt.wantStatus || res.header.Get("Location") != tt.wantLocation {
				t.Fatalf("status %d Location %q, want %d %q", res.status, res.header.Get("Location"), tt.wantStatus, tt.wantLocation)
			}
		})
	}
}

func TestDeviceEndpointRefuses(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	res := f.post(f.http, "/oauth2/device_authorize", url.Values{"client_id": {DefaultClientID}}, false)
	if body := decode(t, res.body); res.status != 400 || body["error_reason"] != "grant_type_disabled" {
		t.Fatalf("status %d body %v", res.status, body)
	}
}

func TestMethodsAreEnforced(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	for _, path := range []string{"/oauth2/token", "/oauth2/introspect"} {
		if res := f.get(f.http, path, nil); res.status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: status %d", path, res.status)
		}
	}
}
