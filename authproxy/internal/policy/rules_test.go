package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exampleRules = `
rules:
  - name: catalog
    match: {host: "*", methods: [GET], path: "/products/**"}
    access: public            # public | authenticated | roles
    upstream: catalog         # becomes the gateway token's aud
    forward: gateway-jwt      # gateway-jwt | access-token
  - name: branch-inventory
    match: {methods: [GET], path: "/branches/*/products"}
    access: roles
    anyOf: [admin, branch-manager]
    upstream: inventory
    forward: access-token
  - name: admin-api
    match: {host: "*.admin.example.com", path: "/api/**"}
    access: authenticated
    upstream: admin
  - name: internal
    match: {path: "/internal/**"}
    access: deny
  - name: exact-host
    match: {host: "Shop.Example.com", methods: [post, PUT], path: "/orders/*/items/**/notes"}
    access: roles
    anyOf: [user]
    upstream: orders
`

func mustParse(t testing.TB, doc string) *Rules {
	t.Helper()
	rs, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return rs
}

func TestParseExample(t *testing.T) {
	t.Parallel()
	rs := mustParse(t, exampleRules)
	if rs.Len() != 5 {
		t.Fatalf("Len = %d", rs.Len())
	}
	all := rs.All()
	if all[2].Forward != ForwardGatewayJWT {
		t.Errorf("default forward = %q", all[2].Forward)
	}
	if all[3].Forward != "" || all[3].Access != AccessDeny {
		t.Errorf("deny rule = %+v", all[3])
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []string // every substring must be in the error
	}{
		{name: "empty document", doc: ``, want: []string{"document is empty"}},
		{name: "not a mapping", doc: `[1, 2]`, want: []string{"must be a mapping"}},
		{name: "empty rules", doc: `rules: []`, want: []string{"at least one rule"}},
		{name: "unknown top-level key", doc: "rules: []\nextra: 1\n", want: []string{`top level: unknown key "extra"`}},
		{name: "duplicate key", doc: "rules: []\nrules: []\n", want: []string{"already set"}},
		{name: "wrong type", doc: "rules: {name: x}\n", want: []string{"cannot unmarshal"}},
		{
			name: "every unknown key at once",
			doc: `
rules:
  - name: a
    match: {path: /a, hots: x}
    acess: public
    upstream: a
  - name: b
    match: {path: /b}
    access: roles
    anyof: [admin]
    upstream: b
`,
			want: []string{`rule 0 ("a"): match: unknown key "hots"`, `rule 0 ("a"): unknown key "acess"`, `rule 1 ("b"): unknown key "anyof"`},
		},
		{
			name: "every rule problem at once",
			doc: `
rules:
  - match: {path: /a}
    access: public
    upstream: a
  - name: dup
    match: {path: /b}
    access: public
    upstream: b
  - name: dup
    match: {path: /c}
    access: public
    upstream: c
  - name: nopath
    match: {methods: [GET]}
    access: public
    upstream: x
  - name: badglob
    match: {path: "/a*/b"}
    access: public
    upstream: x
  - name: rolesnoany
    match: {path: /r}
    access: roles
    upstream: x
  - name: anyonpublic
    match: {path: /p}
    access: public
    anyOf: [admin]
    upstream: x
  - name: badaccess
    match: {path: /q}
    access: everyone
    upstream: x
  - name: badforward
    match: {path: /f}
    access: authenticated
    forward: cookie
    upstream: x
  - name: noupstream
    match: {path: /u}
    access: authenticated
  - name: badmethod
    match: {path: /m, methods: [GET, FETCH]}
    access: public
    upstream: x
  - name: noaccess
    match: {path: /n}
    upstream: x
  - name: publicaccesstoken
    match: {path: /t}
    access: public
    forward: access-token
    upstream: x
  - name: denywithupstream
    match: {path: /d}
    access: deny
    upstream: x
  - name: badhost
    match: {path: /h, host: "shop.example.com:8080"}
    access: public
    upstream: x
  - name: relpath
    match: {path: "products"}
    access: public
    upstream: x
  - name: dotpath
    match: {path: "/a/../b"}
    access: public
    upstream: x
  - name: twodouble
    match: {path: "/**/a/**"}
    access: public
    upstream: x
  - name: trailing
    match: {path: "/a/"}
    access: public
    upstream: x
`,
			want: []string{
				"rule 0: name is required",
				`rule 2 ("dup"): duplicate name (also rule 1)`,
				`rule 3 ("nopath"): match.path is required`,
				`rule 4 ("badglob"): match.path "/a*/b"`,
				`rule 5 ("rolesnoany"): access roles needs a non-empty anyOf`,
				`rule 6 ("anyonpublic"): anyOf is only allowed with access roles`,
				`rule 7 ("badaccess"): unknown access "everyone"`,
				`rule 8 ("badforward"): unknown forward "cookie"`,
				`rule 9 ("noupstream"): upstream is required`,
				`rule 10 ("badmethod"): match.methods: unknown method "FETCH"`,
				`rule 11 ("noaccess"): access is required`,
				`rule 12 ("publicaccesstoken"): forward access-token needs a logged-in user`,
				`rule 13 ("denywithupstream"): access deny takes no upstream`,
				`rule 14 ("badhost"): match.host`,
				`rule 15 ("relpath"): match.path "products": must start with /`,
				`rule 16 ("dotpath"): match.path "/a/../b": dot segment`,
				`rule 17 ("twodouble"): match.path "/**/a/**": at most one **`,
				`rule 18 ("trailing"): match.path "/a/": empty segment`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.doc))
			if !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("Parse error = %v; want ErrInvalidRules", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(p, []byte(exampleRules), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}

// TestHash: the hash names the document's content: the same bytes give the
// same hash, any change (a comment too) another.
func TestHash(t *testing.T) {
	t.Parallel()
	a, b := mustParse(t, exampleRules), mustParse(t, exampleRules)
	if a.Hash() == "" || a.Hash() != b.Hash() || a.Hash() != HashOf([]byte(exampleRules)) {
		t.Fatalf("hashes of the same document: %q %q %q", a.Hash(), b.Hash(), HashOf([]byte(exampleRules)))
	}
	if c := mustParse(t, exampleRules+"# changed\n"); c.Hash() == a.Hash() {
		t.Fatalf("a changed document kept hash %q", c.Hash())
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	rs := mustParse(t, exampleRules)
	tests := []struct {
		name   string
		host   string
		method string
		path   string
		want   string // "" = no match (deny)
	}{
		{name: "public list", host: "localhost:8000", method: "GET", path: "/products", want: "catalog"},
		{name: "double star zero segments", host: "x", method: "GET", path: "/products", want: "catalog"},
		{name: "double star many segments", host: "x", method: "GET", path: "/products/1/reviews/2", want: "catalog"},
		{name: "prefix is not a segment", host: "x", method: "GET", path: "/productsX", want: ""},
		{name: "method case-insensitive", host: "x", method: "get", path: "/products/1", want: "catalog"},
		{name: "HEAD matches GET rule", host: "x", method: "HEAD", path: "/branches/1/products", want: "branch-inventory"},
		{name: "POST does not match GET rule", host: "x", method: "POST", path: "/products/1", want: ""},
		{name: "single star one segment", host: "x", method: "GET", path: "/branches/1/products", want: "branch-inventory"},
		{name: "single star not two segments", host: "x", method: "GET", path: "/branches/1/2/products", want: ""},
		{name: "single star not zero segments", host: "x", method: "GET", path: "/branches/products", want: ""},
		{name: "path case-sensitive", host: "x", method: "GET", path: "/Branches/1/products", want: ""},
		{name: "host wildcard one label", host: "eu.admin.example.com", method: "DELETE", path: "/api/x", want: "admin-api"},
		{name: "host wildcard upper case with port", host: "EU.Admin.Example.com:443", method: "GET", path: "/api", want: "admin-api"},
		{name: "host wildcard not two labels", host: "a.eu.admin.example.com", method: "GET", path: "/api/x", want: ""},
		{name: "host wildcard not apex", host: "admin.example.com", method: "GET", path: "/api/x", want: ""},
		{name: "host suffix trick", host: "evil-admin.example.com", method: "GET", path: "/api/x", want: ""},
		{name: "deny rule", host: "x", method: "GET", path: "/internal/metrics", want: "internal"},
		{name: "exact host with trailing dot", host: "shop.example.com.", method: "POST", path: "/orders/7/items/notes", want: "exact-host"},
		{name: "exact host suffix and prefix", host: "shop.example.com", method: "put", path: "/orders/7/items/a/b/notes", want: "exact-host"},
		{name: "exact host other host", host: "shop.example.org", method: "POST", path: "/orders/7/items/notes", want: ""},
		{name: "suffix needs its segment", host: "shop.example.com", method: "POST", path: "/orders/7/items", want: ""},
		{name: "ipv6 host", host: "[::1]:8000", method: "GET", path: "/products", want: "catalog"},
		{name: "no match root", host: "x", method: "GET", path: "/", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, ok := rs.Match(tt.host, tt.method, tt.path)
			got := ""
			if ok {
				got = r.Name
			}
			if got != tt.want {
				t.Fatalf("Match(%q, %q, %q) = %q; want %q", tt.host, tt.method, tt.path, got, tt.want)
			}
		})
	}
}

func TestFirstMatchWins(t *testing.T) {
	t.Parallel()
	rs := mustParse(t, `
rules:
  - name: admin-only
    match: {path: /products/secret}
    access: roles
    anyOf: [admin]
    upstream: catalog
  - name: catalog
    match: {path: "/products/**"}
    access: public
    upstream: catalog
  - name: catch-all
    match: {path: "/**"}
    access: authenticated
    upstream: web
`)
	for path, want := range map[string]string{
		"/products/secret": "admin-only",
		"/products/1":      "catalog",
		"/":                "catch-all",
		"/x/y":             "catch-all",
	} {
		r, ok := rs.Match("h", "GET", path)
		if !ok || r.Name != want {
			t.Errorf("Match(%q) = %v; want %q", path, r, want)
		}
	}
}

func TestAllows(t *testing.T) {
	t.Parallel()
	rs := mustParse(t, exampleRules)
	byName := map[string]*Rule{}
	for i, r := range rs.All() {
		byName[r.Name] = &rs.All()[i]
	}
	tests := []struct {
		rule  string
		roles []string
		want  bool
	}{
		{rule: "catalog", roles: nil, want: true},
		{rule: "admin-api", roles: nil, want: true},
		{rule: "branch-inventory", roles: []string{"admin"}, want: true},
		{rule: "branch-inventory", roles: []string{"user", "branch-manager"}, want: true},
		{rule: "branch-inventory", roles: []string{"user"}, want: false},
		{rule: "branch-inventory", roles: []string{"Admin"}, want: false},
		{rule: "branch-inventory", roles: nil, want: false},
		{rule: "internal", roles: []string{"admin"}, want: false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.rule, tt.roles), func(t *testing.T) {
			t.Parallel()
			if got := byName[tt.rule].Allows(tt.roles); got != tt.want {
				t.Fatalf("Allows(%v) = %v; want %v", tt.roles, got, tt.want)
			}
		})
	}
	if byName["catalog"].NeedsSession() || !byName["admin-api"].NeedsSession() || !byName["branch-inventory"].NeedsSession() {
		t.Error("NeedsSession wrong")
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add([]byte(exampleRules))
	f.Add([]byte("rules: []"))
	f.Add([]byte("rules:\n- name: a\n  match: {path: '/**'}\n  access: public\n  upstream: a\n"))
	f.Add([]byte("{\"rules\": [{\"name\": 1}]}"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		rs, err := Parse(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("error %v does not wrap ErrInvalidRules", err)
			}
			return
		}
		if rs.Len() == 0 {
			t.Fatal("valid rules with no rule")
		}
		rs.Match("a.example.com:80", "GET", "/a/b")
	})
}

func BenchmarkMatch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("rules:\n")
	for i := range 20 {
		fmt.Fprintf(&sb, "  - name: svc-%d\n    match: {host: \"*.example.com\", methods: [GET, POST], path: \"/svc%d/*/items/**\"}\n    access: roles\n    anyOf: [admin]\n    upstream: svc%d\n", i, i, i)
	}
	sb.WriteString(strings.TrimPrefix(exampleRules, "\nrules:\n"))
	rs := mustParse(b, sb.String())
	for _, bc := range []struct{ name, host, path string }{
		{name: "first", host: "a.example.com", path: "/svc0/1/items/2"},
		{name: "late", host: "shop.example.com", path: "/branches/1/products"},
		{name: "miss", host: "shop.example.com", path: "/nothing/here/at/all"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rs.Match(bc.host, "GET", bc.path)
			}
		})
	}
}
