package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/token"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
	"github.com/google/go-cmp/cmp"
)

const (
	htmlAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	jsonAccept = "application/json"
)

// TestDecisionsPerDialect runs every rule outcome through each dialect,
// against the in-memory session store and the fake provider: no Redis, no
// IdP. (That a session's access token is one the services accept, and that
// an id_token is refused as a bearer token, is tested with the dev IdP in
// TestLoginFlow and TestBearerConfusion.)
func TestDecisionsPerDialect(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{fakeIdP: true})
	p := ps[0]
	customer, cs := e.sessionFor("customer@example.com")
	manager, ms := e.sessionFor("manager@example.com")
	admin, as := e.sessionFor("admin@example.com")
	outsider, _ := e.sessionFor("outsider@example.com")
	customerAT, customerIDT := cs.AccessToken, cs.IDToken
	accessTokens := map[string]string{ms.AccessToken: managerID, as.AccessToken: adminID}
	gw := map[string]func(string) (string, []string){}
	for _, aud := range []string{"catalog", "admin", "account"} {
		v := gatewayVerifier(t, p, aud)
		gw[aud] = func(tok string) (string, []string) {
			c, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Errorf("gateway token for %s refused: %v", aud, err)
				return "", nil
			}
			return c.Subject, c.Roles
		}
	}

	loginPrefix := p.url + "/oauth2/start?rd="
	type want struct {
		status   int
		sub      string // gateway token subject ("" = no gateway token check)
		aud      string
		access   string // subject of the session whose access token is forwarded
		errCode  string
		rule     string
		redirect bool // browser redirect (or, for nginx, login header)
	}
	tests := []struct {
		name string
		req  fwd
		want want
	}{
		{name: "public anonymous", req: fwd{uri: "/products?page=1"}, want: want{status: 200, sub: "anonymous", aud: "catalog"}},
		{name: "public exact prefix", req: fwd{uri: "/products"}, want: want{status: 200, sub: "anonymous", aud: "catalog"}},
		{name: "public with session", req: fwd{uri: "/products/7", cookie: customer}, want: want{status: 200, sub: customerID, aud: "catalog"}},
		{name: "public with broken session still passes", req: fwd{uri: "/products", cookie: "x.y"}, want: want{status: 200, sub: "anonymous", aud: "catalog"}},
		{name: "method not in rule", req: fwd{method: "POST", uri: "/products"}, want: want{status: 403, errCode: "no_matching_rule"}},
		{name: "no rule", req: fwd{uri: "/nowhere", cookie: admin}, want: want{status: 403, errCode: "no_matching_rule"}},
		{name: "deny rule", req: fwd{uri: "/internal/x", cookie: admin}, want: want{status: 403, errCode: "forbidden", rule: "internal"}},
		{name: "authenticated api anonymous", req: fwd{uri: "/account/me", accept: jsonAccept}, want: want{status: 401, errCode: "unauthenticated", rule: "account"}},
		{name: "authenticated browser anonymous", req: fwd{uri: "/account/me", accept: htmlAccept}, want: want{status: 302, redirect: true}},
		{name: "authenticated browser POST", req: fwd{method: "POST", uri: "/account/me", accept: htmlAccept}, want: want{status: 401, errCode: "unauthenticated", rule: "account"}},
		{name: "authenticated XHR", req: fwd{uri: "/account/me", accept: htmlAccept, headers: map[string]string{"X-Requested-With": "XMLHttpRequest"}}, want: want{status: 401, errCode: "unauthenticated", rule: "account"}},
		{name: "authenticated fetch", req: fwd{uri: "/account/me", accept: "*/*", headers: map[string]string{"Sec-Fetch-Mode": "cors"}}, want: want{status: 401, errCode: "unauthenticated", rule: "account"}},
		{name: "authenticated customer", req: fwd{uri: "/account/me", cookie: customer}, want: want{status: 200, sub: customerID, aud: "account"}},
		{name: "authenticated outsider", req: fwd{uri: "/account/me", cookie: outsider}, want: want{status: 200, sub: outsiderID, aud: "account"}},
		{name: "roles admin", req: fwd{uri: "/admin/x", cookie: admin}, want: want{status: 200, sub: adminID, aud: "admin"}},
		{name: "roles customer forbidden", req: fwd{uri: "/admin/x", cookie: customer}, want: want{status: 403, errCode: "forbidden", rule: "admin"}},
		{name: "roles anonymous browser", req: fwd{uri: "/admin/x", accept: htmlAccept}, want: want{status: 302, redirect: true}},
		{name: "inventory manager gets access token", req: fwd{uri: "/branches/1/products", cookie: manager}, want: want{status: 200, access: managerID}},
		{name: "inventory admin gets access token", req: fwd{uri: "/branches/2/products", cookie: admin}, want: want{status: 200, access: adminID}},
		{name: "inventory outsider forbidden", req: fwd{uri: "/branches/1/products", cookie: outsider}, want: want{status: 403, errCode: "forbidden", rule: "branch-inventory"}},
		{name: "inventory customer forbidden", req: fwd{uri: "/branches/1/products", cookie: customer}, want: want{status: 403, errCode: "forbidden", rule: "branch-inventory"}},
		{name: "bearer access token", req: fwd{uri: "/account/me", bearer: customerAT}, want: want{status: 200, sub: customerID, aud: "account"}},
		{name: "bearer wins over cookie", req: fwd{uri: "/admin/x", bearer: customerAT, cookie: admin}, want: want{status: 403, errCode: "forbidden", rule: "admin"}},
		{name: "bearer garbage", req: fwd{uri: "/account/me", bearer: "not.a.token"}, want: want{status: 401, errCode: "unauthenticated", rule: "account"}},
		{name: "bearer id_token refused", req: fwd{uri: "/account/me", bearer: customerIDT}, want: want{status: 401, errCode: "unauthenticated", rule: "account"}},
		{name: "bearer on public rule stays public", req: fwd{uri: "/products", bearer: "garbage"}, want: want{status: 200, sub: "anonymous", aud: "catalog"}},
	}
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		for _, tt := range tests {
			t.Run(dialect+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				resp, body := tt.req.send(t, p, dialect)
				w := tt.want
				status := w.status
				if w.redirect && dialect == dialectNginx {
					status = http.StatusUnauthorized // nginx cannot pass a redirect
				}
				if resp.StatusCode != status {
					t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
				}
				switch {
				case w.redirect && dialect == dialectNginx:
					if !strings.HasPrefix(resp.Header.Get(HeaderLoginURL), loginPrefix) || resp.Header.Get("Location") != "" {
						t.Errorf("nginx: %s = %q, Location %q", HeaderLoginURL, resp.Header.Get(HeaderLoginURL), resp.Header.Get("Location"))
					}
				case w.redirect:
					loc := resp.Header.Get("Location")
					wantRD := tt.req.uri
					if loc != loginPrefix+url.QueryEscape(wantRD) {
						t.Errorf("Location %q, want %q", loc, loginPrefix+url.QueryEscape(wantRD))
					}
				case w.errCode != "":
					got := decodeJSON(t, body)
					if got["error"] != w.errCode || (w.rule != "" && got["rule"] != w.rule) {
						t.Errorf("body %s, want error %q rule %q", body, w.errCode, w.rule)
					}
					if resp.Header.Get("Authorization") != "" {
						t.Errorf("refusal carries a token")
					}
					if w.status == 401 {
						if !strings.HasPrefix(got["login_url"].(string), loginPrefix) || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
							t.Errorf("401 lacks login_url or WWW-Authenticate: %s %q", body, resp.Header.Get("WWW-Authenticate"))
						}
					}
					if w.errCode == "forbidden" && strings.Contains(body, "eyJ") {
						t.Errorf("403 body leaks a token: %s", body)
					}
				case w.access != "":
					if got := accessTokens[bearerOf(t, resp)]; got != w.access {
						t.Errorf("forwarded token is the access token of %q, want %q's", got, w.access)
					}
				case w.sub != "":
					sub, _ := gw[w.aud](bearerOf(t, resp))
					if d := cmp.Diff(w.sub, sub); d != "" {
						t.Errorf("gateway token sub (-want +got): %s", d)
					}
				}
			})
		}
	}
}

// TestAuthzResponseHeaders: identity headers on an /authz answer come from
// authproxy only: client-supplied X-Auth-Request-* never reach the answer,
// anonymous and refused requests carry none, and HEAD is decided like GET.
func TestAuthzResponseHeaders(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{fakeIdP: true})
	p := ps[0]
	customer, _ := e.sessionFor("customer@example.com")
	forged := map[string]string{HeaderUser: adminID, HeaderEmail: "admin@example.com", "X-Auth-Request-Groups": "admin"}
	tests := []struct {
		name            string
		req             fwd
		status          int
		wantUser, email string
	}{
		{name: "customer", req: fwd{uri: "/account/me", cookie: customer, headers: forged}, status: 200, wantUser: customerID, email: "customer@example.com"},
		{name: "anonymous public", req: fwd{uri: "/products", headers: forged}, status: 200},
		{name: "refused", req: fwd{uri: "/admin/x", cookie: customer, headers: forged}, status: 403},
		{name: "unauthenticated", req: fwd{uri: "/admin/x", accept: jsonAccept, headers: forged}, status: 401},
		{name: "HEAD anonymous", req: fwd{method: http.MethodHead, uri: "/account/me", accept: htmlAccept, headers: forged}, status: 302},
		{name: "HEAD customer", req: fwd{method: http.MethodHead, uri: "/products", cookie: customer, headers: forged}, status: 200, wantUser: customerID, email: "customer@example.com"},
	}
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		for _, tt := range tests {
			t.Run(dialect+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				resp, body := tt.req.send(t, p, dialect)
				status := tt.status
				if status == 302 && dialect == dialectNginx {
					status = 401
				}
				if resp.StatusCode != status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
				}
				if got := resp.Header.Get(HeaderUser); got != tt.wantUser {
					t.Errorf("%s = %q, want %q", HeaderUser, got, tt.wantUser)
				}
				if got := resp.Header.Get(HeaderEmail); got != tt.email {
					t.Errorf("%s = %q, want %q", HeaderEmail, got, tt.email)
				}
				// An allow always carries both headers (empty for anonymous), so a
				// proxy copying them overwrites whatever the client sent.
				for _, h := range []string{HeaderUser, HeaderEmail} {
					if n := len(resp.Header.Values(h)); status == 200 && n != 1 {
						t.Errorf("%s present %d times on an allow, want exactly once", h, n)
					}
				}
				if got := resp.Header.Get("X-Auth-Request-Groups"); got != "" {
					t.Errorf("client header echoed: %q", got)
				}
			})
		}
	}
}

// TestMintedTokenCacheIsolation: on one rule, tokens minted for one user are
// never served to another or to an anonymous request, and anonymous tokens
// carry no roles, session or tenant, whatever was cached before them.
func TestMintedTokenCacheIsolation(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{fakeIdP: true})
	p := ps[0]
	admin, _ := e.sessionFor("admin@example.com")
	admin2, _ := e.sessionFor("admin@example.com") // same user, second session
	customer, _ := e.sessionFor("customer@example.com")
	v := gatewayVerifier(t, p, "catalog")
	type seen struct{ sub, sid, roles string }
	got := func(cookie string) seen {
		t.Helper()
		resp, body := fwd{uri: "/products", cookie: cookie}.send(t, p, dialectForwarded)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		c, err := v.Verify(context.Background(), bearerOf(t, resp))
		if err != nil {
			t.Fatal(err)
		}
		var branches jwtauth.StringList
		if _, err := c.Extra("branches", &branches); err != nil {
			t.Fatal(err)
		}
		if c.Subject == token.Anonymous && (c.TenantID != "" || len(branches) != 0) {
			t.Errorf("anonymous token carries identity: %+v", c)
		}
		return seen{sub: c.Subject, sid: c.SessionID, roles: strings.Join(c.Roles, ",")}
	}
	// Twice each, so the second answer comes from the cache.
	for range 2 {
		for _, tt := range []struct {
			name, cookie string
			want         seen
		}{
			{name: "admin", cookie: admin, want: seen{sub: adminID, sid: session.SID(admin), roles: "admin"}},
			{name: "anonymous", want: seen{sub: token.Anonymous}},
			{name: "admin's second session", cookie: admin2, want: seen{sub: adminID, sid: session.SID(admin2), roles: "admin"}},
			{name: "customer", cookie: customer, want: seen{sub: customerID, sid: session.SID(customer), roles: "user"}},
			{name: "broken cookie", cookie: "x.y", want: seen{sub: token.Anonymous}},
		} {
			if g := got(tt.cookie); g != tt.want {
				t.Errorf("%s: got %+v, want %+v", tt.name, g, tt.want)
			}
		}
	}
}
