package server

import (
	"net/http"
	"net/textproto"
	"strings"
)

// maxCookies is net/http's default limit on the cookies of a request
// (GODEBUG httpcookiemaxnum): past it, Request.Cookie finds none.
const maxCookies = 3000

// cookieValue returns the value of the first cookie named name (a valid
// cookie name, as config checks) in r's Cookie headers: what
// r.Cookie(name) returns, without the slice and the *Cookie it allocates
// on every decision. FuzzCookieValue holds it to r.Cookie.
func cookieValue(r *http.Request, name string) (string, bool) {
	lines := r.Header["Cookie"]
	if len(lines) == 0 || name == "" {
		return "", false
	}
	count := 0
	for _, line := range lines {
		count += strings.Count(line, ";") + 1
	}
	if count > maxCookies {
		return "", false
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			k, v, _ := strings.Cut(part, "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if v, ok := cookieValueOf(v); ok {
				return v, true
			}
		}
	}
	return "", false
}

// cookieValueOf strips one pair of surrounding double quotes and checks
// the bytes RFC 6265 allows in a cookie value, as net/http does.
func cookieValueOf(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return "", false
		}
	}
	return raw, true
}
