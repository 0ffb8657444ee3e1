package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// claimsKey is the context key for verified claims.
type claimsKey struct{}

// realm is named in the challenge sent when a request carries no token.
const realm = "gatewarden"

// Response bodies. They say nothing about why a token was refused.
const (
	codeUnauthenticated = "unauthenticated"
	codeInvalidToken    = "invalid_token"
	codeForbidden       = "forbidden"
	codeUnavailable     = "unavailable"
)

// Middleware verifies the bearer token of every request and passes the
// verified claims to next through the request context (see FromContext).
//
// A request without a bearer token (no Authorization header, or another
// scheme) gets 401 with `WWW-Authenticate: Bearer realm="gatewarden"` and no
// error code (RFC 6750 section 3.1); any other failure gets 401 with
// `WWW-Authenticate: Bearer error="invalid_token"`, except a revocation
// feed not read within its staleness bound (ErrRevocationsUnavailable),
// which gets 503 with Retry-After: 1. All carry a generic JSON body. A
// presented token that fails is logged at warn level with the reason
// (issuer, audience, key, expiry, id_token, ...), never the token; a request
// without one, or refused only because the feed is stale (the follower logs
// the outage once), at debug level.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r2, ok := v.Authenticate(w, r); ok {
			next.ServeHTTP(w, r2)
		}
	})
}

// Authenticate is Middleware's core, for adapters to other routers (see
// package ginjwt): it verifies r's bearer token and returns r with the
// claims in its context, or writes Middleware's 401 answer and returns false.
func (v *Verifier) Authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	ctx := r.Context()
	var (
		claims *Claims
		err    error
	)
	values := r.Header.Values("Authorization")
	token := ""
	switch len(values) {
	case 0:
		err = ErrNoToken
	case 1:
		token, err = BearerToken(values[0])
	default:
		err = errors.New("jwtauth: more than one Authorization header")
	}
	if err == nil {
		claims, err = v.Verify(ctx, token)
	}
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, ErrNoToken) || errors.Is(err, ErrRevocationsUnavailable) {
			// A feed outage is logged once by the follower, not per request.
			level = slog.LevelDebug
		}
		v.logger.Log(ctx, level, "token rejected", attrReason, err.Error(), attrMethod, r.Method, attrPath, r.URL.Path)
		switch {
		case errors.Is(err, ErrNoToken):
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			writeJSONError(w, http.StatusUnauthorized, codeUnauthenticated, "a bearer token is required")
		case errors.Is(err, ErrRevocationsUnavailable):
			// No verdict on the token: the feed is stale (fail safe).
			w.Header().Set("Retry-After", "1")
			writeJSONError(w, http.StatusServiceUnavailable, codeUnavailable, "token revocations cannot be checked right now")
		default:
			WriteInvalidToken(w)
		}
		return nil, false
	}
	return r.WithContext(context.WithValue(ctx, claimsKey{}, claims)), true
}

// WriteInvalidToken writes the 401 answer Middleware gives a token it
// refuses (`WWW-Authenticate: Bearer error="invalid_token"`, a JSON body
// that says nothing about the token). A service that refuses a verified
// token for a reason of its own, such as a claim of its own that does not
// decode (see Claims.Extra), answers with it too.
func WriteInvalidToken(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeJSONError(w, http.StatusUnauthorized, codeInvalidToken, "the access token is invalid or expired")
}

// FromContext returns the claims the middleware verified for this request.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// RequireAnyRole returns middleware, to be placed after Middleware, that
// answers 403 unless the verified claims carry at least one of roles. A
// request without verified claims gets 401 (fail closed).
func RequireAnyRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if CheckAnyRole(w, r, roles...) {
				next.ServeHTTP(w, r)
			}
		})
	}
}

// CheckAnyRole is RequireAnyRole's core, for adapters to other routers: it
// reports whether r's verified claims carry one of roles, and otherwise
// writes RequireAnyRole's 401 or 403 answer.
func CheckAnyRole(w http.ResponseWriter, r *http.Request, roles ...string) bool {
	claims, ok := FromContext(r.Context())
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
		writeJSONError(w, http.StatusUnauthorized, codeUnauthenticated, "a bearer token is required")
		return false
	}
	if !claims.HasAnyRole(roles...) {
		writeJSONError(w, http.StatusForbidden, codeForbidden, "requires one of the roles: "+strings.Join(roles, ", "))
		return false
	}
	return true
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{code, message})
}
