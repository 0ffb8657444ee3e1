package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr bool
	}{
		{name: "root", raw: "/", want: "/"},
		{name: "empty", raw: "", want: "/"},
		{name: "plain", raw: "/products/1", want: "/products/1"},
		{name: "query and fragment cut", raw: "/products?x=/../admin#frag", want: "/products"},
		{name: "fragment only", raw: "/products#/../../admin", want: "/products"},
		{name: "missing leading slash", raw: "products", want: "/products"},
		{name: "trailing slash dropped", raw: "/products/", want: "/products"},
		{name: "dot dot", raw: "/products/../branches/1/products", want: "/branches/1/products"},
		{name: "dot", raw: "/./branches/./1/products", want: "/branches/1/products"},
		{name: "dot dot above root", raw: "/../../branches", want: "/branches"},
		{name: "trailing dot dot", raw: "/products/..", want: "/"},
		{name: "encoded letter", raw: "/%62ranches/1/products", want: "/branches/1/products"},
		{name: "lower-case escape of unreserved", raw: "/%7euser", want: "/~user"},
		{name: "double slash", raw: "//branches/1/products", want: "/branches/1/products"},
		{name: "many slashes", raw: "/products///..//branches//1/products", want: "/branches/1/products"},
		{name: "encoded dot dot", raw: "/products/%2e%2e/branches/1/products", want: "/branches/1/products"},
		{name: "encoded dot dot upper", raw: "/products/%2E%2E/branches/1/products", want: "/branches/1/products"},
		{name: "half encoded dot dot", raw: "/products/.%2e/branches/1/products", want: "/branches/1/products"},
		{name: "encoded single dot", raw: "/products/%2e/x", want: "/products/x"},
		{name: "matrix param is literal", raw: "/products;/../branches", want: "/branches"},
		{name: "semicolon kept", raw: "/products;jsessionid=1", want: "/products;jsessionid=1"},
		{name: "double encoded dot is a literal name", raw: "/products/%252e%252e/branches", want: "/products/%252e%252e/branches"},
		{name: "percent re-encoded", raw: "/a%25b", want: "/a%25b"},
		{name: "space re-encoded", raw: "/a%20b", want: "/a%20b"},
		{name: "encoded question mark stays encoded", raw: "/a%3fb", want: "/a%3Fb"},
		{name: "encoded hash stays encoded", raw: "/a%23b", want: "/a%23b"},
		{name: "raw utf8 encoded", raw: "/caf\xc3\xa9", want: "/caf%C3%A9"},
		{name: "escape case canonical", raw: "/caf%c3%a9", want: "/caf%C3%A9"},
		{name: "sub-delims literal", raw: "/a!$&'()*+,;=:@b", want: "/a!$&'()*+,;=:@b"},

		{name: "encoded slash rejected", raw: "/products/..%2fbranches/1/products", wantErr: true},
		{name: "encoded slash upper rejected", raw: "/products/..%2Fbranches", wantErr: true},
		{name: "encoded backslash rejected", raw: "/products/..%5cbranches", wantErr: true},
		{name: "backslash rejected", raw: "/products\\..\\branches", wantErr: true},
		{name: "encoded NUL rejected", raw: "/products%00/x", wantErr: true},
		{name: "encoded newline rejected", raw: "/products%0a", wantErr: true},
		{name: "encoded DEL rejected", raw: "/products%7f", wantErr: true},
		{name: "raw NUL rejected", raw: "/products\x00", wantErr: true},
		{name: "raw space rejected", raw: "/a b", wantErr: true},
		{name: "raw tab rejected", raw: "/a\tb", wantErr: true},
		{name: "bad escape rejected", raw: "/a%zzb", wantErr: true},
		{name: "truncated escape rejected", raw: "/a%2", wantErr: true},
		{name: "lone percent rejected", raw: "/a%", wantErr: true},
		// Servlet containers (Tomcat, Jetty, Spring) strip ";params" from a
		// segment before resolving dots, so "..;" climbs for them.
		{name: "dot dot with params rejected", raw: "/products/..;/branches/1/products", wantErr: true},
		{name: "dot dot with named params rejected", raw: "/products/..;x=1/branches", wantErr: true},
		{name: "dot with params rejected", raw: "/products/.;/x", wantErr: true},
		{name: "encoded dot dot with params rejected", raw: "/products/%2e%2e;/branches", wantErr: true},
		{name: "encoded semicolon after dot dot rejected", raw: "/products/..%3b/branches", wantErr: true},
		{name: "dots inside a name with params kept", raw: "/a/...;x", want: "/a/...;x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizePath(tt.raw)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("NormalizePath(%q) = %q, %v; want ErrInvalidPath", tt.raw, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePath(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

// TestPathTricksCannotReachProtectedRule is the end-to-end property: none of
// the path tricks lets a request for the inventory route match the public
// catalog rule.
func TestPathTricksCannotReachProtectedRule(t *testing.T) {
	t.Parallel()
	rules, err := Parse([]byte(`
rules:
  - name: catalog
    match: {methods: [GET], path: "/products/**"}
    access: public
    upstream: catalog
  - name: branch-inventory
    match: {methods: [GET], path: "/branches/*/products"}
    access: roles
    anyOf: [admin, branch-manager]
    upstream: inventory
`))
	if err != nil {
		t.Fatal(err)
	}
	tricks := []string{
		"/products/../branches/1/products",
		"/%62ranches/1/products",
		"//branches/1/products",
		"/products/%2e%2e/branches/1/products",
		"/products/..%2fbranches/1/products",
		"/products/..%5cbranches/1/products",
		"/products\\..\\branches/1/products",
		"/products;/../branches/1/products",
		"/products/./../branches/1/products/",
		"/products/%2E%2E/%2E%2E/branches/1/products",
		"/products/.%2e/branches/1/products?x=1",
		"/products/..;/branches/1/products",
		"/products/%2e%2e;jsessionid=x/branches/1/products",
	}
	for _, raw := range tricks {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			p, err := NormalizePath(raw)
			if err != nil {
				return // rejected: authproxy answers 400
			}
			r, ok := rules.Match("shop.example.com", "GET", p)
			if !ok || r.Name != "branch-inventory" {
				t.Fatalf("%q normalised to %q matched %v; want branch-inventory", raw, p, r)
			}
		})
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{
		"/", "", "/products/../branches/1/products", "/%62ranches", "//x", "/%2e%2e/x",
		"/..%2fx", "/a;/../b", "/%252e", "/a?b#c", "/caf\xc3\xa9", "/a%", "\\x", "/./.././",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizePath(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("error %v does not wrap ErrInvalidPath", err)
			}
			return
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("%q -> %q: no leading slash", raw, got)
		}
		for _, bad := range []string{"//", "/./", "/../", "\\", "?", "#"} {
			if strings.Contains(got, bad) {
				t.Fatalf("%q -> %q contains %q", raw, got, bad)
			}
		}
		if got != "/" && (strings.HasSuffix(got, "/") || strings.HasSuffix(got, "/.") || strings.HasSuffix(got, "/..")) {
			t.Fatalf("%q -> %q: bad ending", raw, got)
		}
		again, err := NormalizePath(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", raw, got, again, err)
		}
	})
}

func BenchmarkNormalizePath(b *testing.B) {
	for _, raw := range []string{"/branches/1/products", "/products/../branches/%31/products?x=1"} {
		b.Run(raw, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NormalizePath(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
