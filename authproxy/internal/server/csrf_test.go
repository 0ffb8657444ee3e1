package server

import "testing"

// TestCrossSiteWrites tries to make a logged-in browser change data from
// another origin, in each proxy dialect: every unsafe request that would act
// with the session cookie must come from the page's own origin; safe
// methods and bearer-token API clients are not affected.
func TestCrossSiteWrites(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{fakeIdP: true})
	p := ps[0]
	customer, cs := e.sessionFor("customer@example.com")
	admin, _ := e.sessionFor("admin@example.com")
	customerAT := cs.AccessToken
	h := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	const self = "https://" + appHost
	tests := []struct {
		name   string
		req    fwd
		status int
		code   string
	}{
		{name: "cookie POST without Origin or Sec-Fetch-Site", req: fwd{method: "POST", uri: "/account/me", cookie: customer}, status: 403, code: "csrf"},
		{name: "cookie POST cross-site", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")}, status: 403, code: "csrf"},
		{name: "cookie POST same-site sibling", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Sec-Fetch-Site", "same-site", "Origin", "https://blog.app.example")}, status: 403, code: "csrf"},
		{name: "Sec-Fetch-Site wins over a matching Origin", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Sec-Fetch-Site", "cross-site", "Origin", self)}, status: 403, code: "csrf"},
		{name: "unknown Sec-Fetch-Site", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Sec-Fetch-Site", "same-origin, cross-site")}, status: 403, code: "csrf"},
		{name: "Origin of another site", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Origin", "https://evil.example")}, status: 403, code: "csrf"},
		{name: "Origin null (sandboxed frame, data: URL)", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Origin", "null")}, status: 403, code: "csrf"},
		{name: "Origin with another scheme", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Origin", "http://"+appHost)}, status: 403, code: "csrf"},
		{name: "Origin with another port", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Origin", self+":8443")}, status: 403, code: "csrf"},
		{name: "Origin that only starts like ours", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Origin", self+".evil.example")}, status: 403, code: "csrf"},
		{name: "admin DELETE cross-site", req: fwd{method: "DELETE", uri: "/admin/products/1", cookie: admin, headers: h("Sec-Fetch-Site", "cross-site")}, status: 403, code: "csrf"},
		{name: "admin PUT without headers", req: fwd{method: "PUT", uri: "/admin/products/1", cookie: admin}, status: 403, code: "csrf"},

		{name: "cookie POST same-origin", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Sec-Fetch-Site", "same-origin", "Origin", self)}, status: 200},
		{name: "cookie POST user-initiated", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Sec-Fetch-Site", "none")}, status: 200},
		{name: "cookie POST own Origin, no Sec-Fetch-Site", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Origin", self)}, status: 200},
		{name: "Origin compared case-insensitively", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Origin", "HTTPS://APP.EXAMPLE")}, status: 200},
		{name: "Origin of authproxy's public URL", req: fwd{method: "POST", uri: "/account/me", cookie: customer, headers: h("Origin", p.url)}, status: 200},
		{name: "admin DELETE same-origin", req: fwd{method: "DELETE", uri: "/admin/products/1", cookie: admin, headers: h("Sec-Fetch-Site", "same-origin")}, status: 200},
		{name: "safe method cross-site", req: fwd{uri: "/account/me", cookie: customer, headers: h("Sec-Fetch-Site", "cross-site")}, status: 200},
		{name: "bearer API client, no browser headers", req: fwd{method: "POST", uri: "/account/me", bearer: customerAT}, status: 200},
		{name: "bearer from another origin", req: fwd{method: "POST", uri: "/account/me", bearer: customerAT, headers: h("Origin", "https://evil.example")}, status: 200},
		{name: "bearer and a cookie: acts with the bearer", req: fwd{method: "POST", uri: "/account/me", bearer: customerAT, cookie: admin, headers: h("Sec-Fetch-Site", "cross-site")}, status: 200},
		{name: "no cookie cross-site: plain 401", req: fwd{method: "POST", uri: "/account/me", headers: h("Sec-Fetch-Site", "cross-site")}, status: 401, code: "unauthenticated"},
		{name: "deny rule stays a deny", req: fwd{method: "POST", uri: "/internal/x", cookie: admin, headers: h("Sec-Fetch-Site", "cross-site")}, status: 403, code: "forbidden"},
	}
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		for _, tt := range tests {
			t.Run(dialect+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				resp, body := tt.req.send(t, p, dialect)
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
				}
				if tt.code == "" {
					if resp.Header.Get("Authorization") == "" && tt.req.uri != "/account/me" {
						t.Error("allowed without a token")
					}
					return
				}
				if got := decodeJSON(t, body); got["error"] != tt.code {
					t.Errorf("body %s, want error %q", body, tt.code)
				}
				if resp.Header.Get("Authorization") != "" {
					t.Error("refusal carries a token")
				}
			})
		}
	}
}

func TestSafeToken(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"cross-site": "cross-site", "x\ny": "(other)", "<script>": "(other)", "aaaaaaaaaaaaaaaaaaaaaaaa": "(other)"} {
		if got := safeToken(in); got != want {
			t.Errorf("safeToken(%q) = %q, want %q", in, got, want)
		}
	}
}
