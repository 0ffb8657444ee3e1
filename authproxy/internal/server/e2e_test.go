package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/hack/devidp"
)

// TestLoginFlow is the whole browser journey: start, the IdP's login form,
// callback, then /authz allows with tokens the services accept.
func TestLoginFlow(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{})
	p := ps[0]
	b := newBrowser(t)

	authURL := b.startLogin(p, "/branches/1/products?page=2")
	au, _ := url.Parse(authURL)
	q := au.Query()
	if !strings.HasPrefix(authURL, e.idpURL+"/oauth2/authorize?") || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" ||
		q.Get("scope") != "openid offline_access" || q.Get("redirect_uri") != p.url+"/oauth2/callback" {
		t.Fatalf("authorize URL lacks PKCE/state/nonce/scope: %s", authURL)
	}
	cb := b.idpLogin(authURL, "admin@example.com")
	resp, body := b.get(cb)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/branches/1/products?page=2" {
		t.Fatalf("callback: %d Location %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	var setCookie string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "gw_session=") {
			setCookie = c
		}
	}
	for _, attr := range []string{"Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=43200"} {
		if !strings.Contains(setCookie, attr) {
			t.Errorf("session cookie %q lacks %s", setCookie, attr)
		}
	}
	if strings.Contains(setCookie, "Domain=") {
		t.Errorf("session cookie must be host-only: %q", setCookie)
	}
	cookie := b.session(p)

	// Gateway JWT for the admin rule, verified as a service would.
	resp, body = fwd{uri: "/admin/users", cookie: cookie}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/authz admin: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get(HeaderUser) != adminID || resp.Header.Get(HeaderEmail) != "admin@example.com" {
		t.Errorf("user headers: %q %q", resp.Header.Get(HeaderUser), resp.Header.Get(HeaderEmail))
	}
	claims, err := gatewayVerifier(t, p, "admin").Verify(context.Background(), bearerOf(t, resp))
	if err != nil {
		t.Fatalf("gateway token refused by jwtauth: %v", err)
	}
	if claims.Subject != adminID || !slices.Equal(claims.Roles, []string{"admin"}) || claims.Issuer != p.url ||
		claims.SessionID == "" || claims.ID == "" || claims.TenantID != devidp.DefaultTenantID {
		t.Errorf("gateway claims = %+v", claims)
	}
	// The same token is refused at another audience (replay at inventory).
	if _, err := gatewayVerifier(t, p, "inventory").Verify(context.Background(), bearerOf(t, resp)); err == nil {
		t.Errorf("admin-audience token accepted for inventory")
	}

	// forward: access-token hands over the FusionAuth access token.
	resp, body = fwd{uri: "/branches/1/products", cookie: cookie}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/authz inventory: %d %s", resp.StatusCode, body)
	}
	at, err := fusionVerifier(t, e).Verify(context.Background(), bearerOf(t, resp))
	if err != nil || at.Subject != adminID || !slices.Equal(at.Roles, []string{"admin"}) {
		t.Fatalf("forwarded access token: %+v %v", at, err)
	}

	// userinfo and the page.
	resp, body = b.get(p.url + "/oauth2/userinfo")
	want := map[string]any{"sub": adminID, "email": "admin@example.com", "name": "Ada Admin", "roles": []any{"admin"}}
	if d := cmp.Diff(want, decodeJSON(t, body)); resp.StatusCode != http.StatusOK || d != "" {
		t.Errorf("userinfo %d (-want +got):\n%s", resp.StatusCode, d)
	}
	resp, body = b.get(p.url + "/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Hello Ada Admin") || !strings.Contains(body, `id="logout"`) {
		t.Errorf("page: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'nonce-") {
		t.Errorf("page CSP = %q", resp.Header.Get("Content-Security-Policy"))
	}

	// Logs never carry the cookie or a token.
	logs := e.logs.String()
	for _, secret := range []string{cookie, bearerOf(t, resp2(t, p, cookie)), strings.Split(cookie, ".")[1]} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret appears in the logs")
		}
	}
	if !strings.Contains(logs, `"msg":"decision"`) || !strings.Contains(logs, `"request_id":`) || !strings.Contains(logs, `"rule":"admin"`) {
		t.Errorf("decision log lines lack rule/request_id:\n%s", logs)
	}
}

func resp2(t *testing.T, p *proxy, cookie string) *http.Response {
	resp, _ := fwd{uri: "/branches/1/products", cookie: cookie}.send(t, p, dialectForwarded)
	return resp
}

func TestPageAnonymousAndEscaping(t *testing.T) {
	t.Parallel()
	users := devidp.DefaultUsers()
	users[2].Name = `<script>alert(1)</script>`
	_, ps := newEnv(t, envOpts{idp: func(c *devidp.Config) { c.Users = users }})
	p := ps[0]
	b := newBrowser(t)
	resp, body := b.get(p.url + "/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="login"`) || !strings.Contains(body, "/oauth2/start?rd=%2F") {
		t.Fatalf("anonymous page: %d %s", resp.StatusCode, body)
	}
	b.login(p, "customer@example.com", "/")
	_, body = b.get(p.url + "/")
	if strings.Contains(body, "<script>alert(1)</script>") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("user name not escaped:\n%s", body)
	}
}
