package server

import (
	"net/http"
	"strings"
	"testing"
)

func cookieRequest(lines ...string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://authproxy/authz", nil)
	for _, l := range lines {
		r.Header.Add("Cookie", l)
	}
	return r
}

// checkCookieValue compares cookieValue with net/http's r.Cookie.
func checkCookieValue(t *testing.T, name string, lines ...string) {
	t.Helper()
	r := cookieRequest(lines...)
	got, ok := cookieValue(r, name)
	c, err := r.Cookie(name)
	if (err == nil) != ok || (ok && got != c.Value) {
		want := "none"
		if err == nil {
			want = c.Value
		}
		t.Fatalf("cookieValue(%q) over %q = %q, %v; r.Cookie: %s", name, lines, got, ok, want)
	}
}

func TestCookieValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cookie string
		lines  []string
	}{
		{name: "only", cookie: "gw", lines: []string{"gw=abc.def"}},
		{name: "among others", cookie: "gw", lines: []string{"a=1; gw=abc; b=2"}},
		{name: "first of two", cookie: "gw", lines: []string{"gw=one; gw=two"}},
		{name: "second header", cookie: "gw", lines: []string{"a=1", "gw=x"}},
		{name: "quoted", cookie: "gw", lines: []string{`gw="abc"`}},
		{name: "a lone quote", cookie: "gw", lines: []string{`gw="`}},
		{name: "invalid byte, then a valid copy", cookie: "gw", lines: []string{`gw=a\b; gw=ok`}},
		{name: "spaces around", cookie: "gw", lines: []string{"  gw = v ;x=1"}},
		{name: "prefix of another name", cookie: "gw", lines: []string{"gwx=1; xgw=2"}},
		{name: "no value", cookie: "gw", lines: []string{"gw"}},
		{name: "empty value", cookie: "gw", lines: []string{"gw="}},
		{name: "absent", cookie: "gw", lines: []string{"a=1"}},
		{name: "no header", cookie: "gw"},
		{name: "empty name", cookie: "", lines: []string{"=1"}},
		{name: "over net/http's cookie limit", cookie: "gw", lines: []string{"gw=1" + strings.Repeat(";", maxCookies)}},
		{name: "at net/http's cookie limit", cookie: "gw", lines: []string{"gw=1" + strings.Repeat(";", maxCookies-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkCookieValue(t, tt.cookie, tt.lines...)
		})
	}
}

func FuzzCookieValue(f *testing.F) {
	// Names as configured (config checks them): the default and a prefixed one.
	names := []string{"_gatewarden", "__Host-gw"}
	for _, s := range []string{"_gatewarden=abc", `a=1; __Host-gw="x"`, " _gatewarden = v ;", "_gatewarden=a\\b; _gatewarden=c", "_gatewarden", "_gatewarden=\x7f"} {
		f.Add(uint8(0), s, "")
	}
	f.Add(uint8(1), "a=1", "__Host-gw=2")
	f.Fuzz(func(t *testing.T, which uint8, line1, line2 string) {
		if strings.ContainsAny(line1+line2, "\r\n\x00") {
			t.Skip() // a header value carries no CR, LF or NUL
		}
		checkCookieValue(t, names[int(which)%len(names)], line1, line2)
	})
}
