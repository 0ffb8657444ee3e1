package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
)

// Cross-site request forgery: a page on another site can make the browser
// send a state-changing request that carries the session cookie. SameSite=Lax
// keeps the cookie off most of them, but not off requests from a sibling
// subdomain (same site, other origin), nor from browsers or embeddings that
// ignore SameSite. So authproxy refuses every unsafe request that would act
// with the session cookie unless the browser says it comes from the page's
// own origin. It reads what browsers put on every such request and a page
// cannot forge, both forwarded by the ingress with the request's headers:
//
//   - Sec-Fetch-Site: same-origin (or none: typed or bookmarked by the user)
//     passes; same-site and cross-site are refused;
//   - without it (older browsers), Origin must be the original request's own
//     scheme://host or authproxy's public origin; "null" and anything else
//     are refused;
//   - with neither, the request is refused too: every browser sends Origin on
//     unsafe requests, so its absence means the ingress does not forward it,
//     and failing closed makes that misconfiguration visible at once.
//
// Requests that carry an Authorization: Bearer token act with that token,
// never with the cookie, and are not checked: API clients are unaffected.

// safeMethod: a method that must not change state (RFC 9110 9.2.1).
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// checkCrossSite returns an error wrapping ErrCSRF when r asks about an
// unsafe request that would be authenticated by the session cookie and does
// not come from the page's own origin.
func (s *Server) checkCrossSite(r *http.Request, req forward.Request) error {
	if safeMethod(req.Method) {
		return nil
	}
	if h := r.Header.Get("Authorization"); h != "" && hasScheme(h, "bearer") {
		return nil // acts with the bearer token, not the cookie
	}
	if c, err := r.Cookie(s.cookie.name); err != nil || c.Value == "" {
		return nil // no session to abuse
	}
	switch site := strings.ToLower(strings.TrimSpace(r.Header.Get("Sec-Fetch-Site"))); site {
	case "same-origin", "none":
		return nil
	case "":
	default:
		return fmt.Errorf("%w: Sec-Fetch-Site %s", ErrCSRF, safeToken(site))
	}
	origin := strings.TrimSpace(r.Header.Get("Origin"))
	if origin == "" {
		return fmt.Errorf("%w: neither Sec-Fetch-Site nor Origin was forwarded", ErrCSRF)
	}
	if strings.EqualFold(origin, req.Scheme+"://"+req.Host) || strings.EqualFold(origin, s.origin) {
		return nil
	}
	return fmt.Errorf("%w: Origin is another origin", ErrCSRF)
}

// safeToken keeps a header value fit for a log line: short, and only the
// characters Sec-Fetch-Site's values use.
func safeToken(v string) string {
	if len(v) > 20 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyz-") != "" {
		return "(other)"
	}
	return v
}
