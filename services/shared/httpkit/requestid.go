package httpkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// HeaderRequestID is the header a request id arrives in and is echoed back in.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds an incoming request id; longer ones are replaced.
const maxRequestIDLen = 64

type requestIDKey struct{}

// ContextWithRequestID returns a copy of ctx carrying id.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id stored by RequestID, or "".
func RequestIDFrom(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestID is middleware that gives every request an id (see
// WithRequestID); the logger from NewLogger adds it to every line logged
// with the request's context.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, WithRequestID(w, r))
	})
}

// WithRequestID keeps a sane incoming X-Request-Id (1 to 64 characters of
// [A-Za-z0-9._-]) or generates a new one, sets it on w's headers and returns
// r with the id in its context, where RequestIDFrom and the logger find it.
// Anything else in the incoming header is dropped, so a client cannot inject
// text into log lines or response headers. RequestID and the gin adapter
// (ginkit.RequestID) are built on it.
func WithRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
	id := r.Header.Get(HeaderRequestID)
	if !ValidRequestID(id) {
		id = NewRequestID()
	}
	w.Header().Set(HeaderRequestID, id)
	return r.WithContext(ContextWithRequestID(r.Context(), id))
}

// ValidRequestID reports whether id is 1 to 64 characters of [A-Za-z0-9._-].
func ValidRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// NewRequestID returns 16 random bytes, hex encoded.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b[:])
}
