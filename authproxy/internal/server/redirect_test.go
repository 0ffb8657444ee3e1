package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
)

func redirectServer(t testing.TB) *Server {
	t.Helper()
	public, _ := url.Parse("https://gw.example")
	return &Server{public: public, cfg: &config.Config{AllowedRedirectHosts: []string{"shop.example", "api.example:8443"}}}
}

// FuzzCheckRedirect: whatever the input, an accepted return URL, resolved
// the way a browser resolves a Location header against the public URL,
// lands on the public host or an allow-listed host, over http(s).
func FuzzCheckRedirect(f *testing.F) {
	for _, seed := range []string{
		"/", "/products?x=1", "//evil.example", "https://evil.example", `/\evil.example`, "%2F%2Fevil.example",
		"javascript:alert(1)", "https://shop.example/x", "https://shop.example@evil.example", "/\t/evil.example",
		"https://api.example:8443/", "https://api.example:9999/", "http://gw.example/x", "///evil.example",
		"/%2F/evil.example", "https:evil.example", "HTTPS://SHOP.EXAMPLE/", "/..//evil.example", "https://[::1]/",
	} {
		f.Add(seed)
	}
	s := redirectServer(f)
	publicHosts := map[string]bool{"gw.example": true, "gw.example:443": true, "gw.example:80": true}
	f.Fuzz(func(t *testing.T, rd string) {
		got, ok := s.checkRedirect(rd)
		if !ok {
			return
		}
		if strings.ContainsAny(got, "\\\t\r\n") {
			t.Fatalf("accepted %q -> %q with a backslash or control character", rd, got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted %q -> unparsable %q", rd, got)
		}
		final := s.public.ResolveReference(u)
		if final.Scheme != "https" {
			t.Fatalf("accepted %q -> scheme %q", rd, final.Scheme)
		}
		host := strings.ToLower(final.Host)
		name := strings.ToLower(final.Hostname())
		onPublic := name == "gw.example" && publicHosts[host]
		onList := name == "shop.example" || host == "api.example:8443"
		if !onPublic && !onList || final.User != nil {
			t.Fatalf("accepted %q -> %q lands on %q", rd, got, final.Host)
		}
		if u.Host == "" && strings.HasPrefix(got, "//") {
			t.Fatalf("accepted scheme-relative %q", got)
		}
	})
}

func TestCheckRedirectTable(t *testing.T) {
	t.Parallel()
	s := redirectServer(t)
	tests := []struct {
		rd   string
		want string // "" = refused
	}{
		{rd: "/x?y=1#z", want: "/x?y=1#z"},
		{rd: "https://gw.example/p", want: "https://gw.example/p"},
		{rd: "https://shop.example/cart", want: "https://shop.example/cart"},
		{rd: "https://api.example:8443/v1", want: "https://api.example:8443/v1"},
		{rd: "https://api.example:9999/v1"},
		{rd: "https://gw.example:8443/other-service"},
		{rd: "http://gw.example/p"}, // downgrade
		{rd: "//evil.example"},
		{rd: "https://evil.example"},
		{rd: `/\evil.example`},
		{rd: "%2F%2Fevil.example"},
		{rd: "javascript:alert(1)"},
		{rd: "https:evil.example"},
		{rd: "/%2F/evil.example"},
		{rd: ""},
		{rd: "/" + strings.Repeat("a", maxRedirectSize)},
		// Browsers drop CR/LF/tab inside URLs and read "\" as "/".
		{rd: "/\r\n/evil.example"},
		{rd: "/x\r\nSet-Cookie: a=b"},
		{rd: "/\t/evil.example"},
		{rd: "/\\evil.example"},
		{rd: "\\\\evil.example"},
		{rd: "/%5Cevil.example", want: "/%5Cevil.example"}, // stays a path: Location is not decoded
		{rd: "/%09/evil.example", want: "/%09/evil.example"},
		{rd: "http:/evil.example"},
		{rd: "https:///evil.example"},
		{rd: "///evil.example"},
		{rd: "/%2f%2fevil.example"},
		{rd: "／／evil.example"},                         // fullwidth solidus: not a path at all
		{rd: "/∕evil.example", want: "/∕evil.example"}, // division slash: a path segment
		{rd: "https://evil.example／@shop.example/"},    // lookalike slash before userinfo
		{rd: "https://ѕhop.example/"},                  // Cyrillic s
		{rd: "https://shop.example./"},                 // trailing dot is another host name
		{rd: "https://shop.example%2F@evil.example/"},
		{rd: "https://evil.example#@shop.example"},
		{rd: "https://evil.example\\@shop.example"},
		{rd: "//shop.example/"}, // scheme-relative even when allow-listed
		{rd: "HTTPS://SHOP.EXAMPLE/X", want: "https://SHOP.EXAMPLE/X"},
	}
	for _, tt := range tests {
		got, ok := s.checkRedirect(tt.rd)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("checkRedirect(%q) = %q, %v; want %q", tt.rd, got, ok, tt.want)
		}
	}
}

// TestHTTPSCookie: on an https public URL the session cookie is __Host-
// prefixed and Secure (and so host-only with Path=/).
func TestHTTPSCookie(t *testing.T) {
	t.Parallel()
	spec, err := newCookieSpec(&config.Config{PublicURL: "https://gw.example", CookieName: "gw_session", CookieSecret: "0123456789abcdef0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	spec.set(rec, spec.name, "v", 60)
	login := spec.loginCookie("some-state")
	spec.set(rec, login, "b", 60)
	got := rec.Header().Values("Set-Cookie")
	want := []string{
		"__Host-gw_session=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax",
		login + "=b; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax",
	}
	if !strings.HasPrefix(login, "__Host-gw_session_login_") || len(login) != len("__Host-gw_session_login_")+loginHashLen {
		t.Errorf("login cookie name %q", login)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Set-Cookie:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The browser-side rules for __Host- hold: parseable, Secure, Path=/, no Domain.
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if !c.Secure || c.Path != "/" || c.Domain != "" || !strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("cookie %+v breaks __Host- rules", c)
		}
	}
}

// TestLoginURLHost: the login URL built by /authz always points at the
// public URL, and its rd names the request's host only when that host is
// allow-listed; a Host header the client chose (evil.example), passed on by
// a trusted proxy, yields a relative rd, so the login ends on the public host.
func TestLoginURLHost(t *testing.T) {
	t.Parallel()
	_, ps := newEnv(t, envOpts{fakeIdP: true, cfg: func(c *config.Config) { c.AllowedRedirectHosts = []string{"shop.example"} }})
	p := ps[0]
	start := p.url + "/oauth2/start?rd="
	tests := []struct {
		name, host, uri, wantRD string
	}{
		{name: "foreign host", host: "evil.example", uri: "/account/me", wantRD: "/account/me"},
		{name: "foreign host with port", host: "evil.example:8443", uri: "/account/me", wantRD: "/account/me"},
		{name: "allow-listed host", host: "shop.example", uri: "/account/me?x=1", wantRD: "https://shop.example/account/me?x=1"},
		{name: "allow-listed suffix", host: "shop.example.evil.example", uri: "/account/me", wantRD: "/account/me"},
	}
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		for _, tt := range tests {
			t.Run(dialect+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				resp, body := fwd{uri: tt.uri, host: tt.host, accept: jsonAccept}.send(t, p, dialect)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				want := start + url.QueryEscape(tt.wantRD)
				if got := decodeJSON(t, body)["login_url"]; got != want {
					t.Errorf("login_url %q, want %q", got, want)
				}
				// The login it starts returns to the same place.
				b := newBrowser(t)
				r, body := b.get(want)
				if r.StatusCode != http.StatusFound {
					t.Fatalf("start: %d %s", r.StatusCode, body)
				}
			})
		}
	}
}
