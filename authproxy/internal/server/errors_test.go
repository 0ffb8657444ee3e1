package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// TestClassify: every error a handler can return, wrapped as handlers wrap
// them, finds its kind, and writeError answers that kind's status and code.
func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		want   errKind
		status int
		code   string
	}{
		{name: "unauthenticated", err: fmt.Errorf("x: %w", ErrUnauthenticated), want: kindUnauthenticated, status: 401, code: "unauthenticated"},
		{name: "decision error", err: &decisionError{err: ErrForbidden, rule: "r"}, want: kindForbidden, status: 403, code: "forbidden"},
		{name: "no rule", err: &decisionError{err: ErrNoRule}, want: kindNoRule, status: 403, code: "no_matching_rule"},
		{name: "joined with a detail", err: errors.Join(ErrUnauthenticated, errBadBearer), want: kindUnauthenticated, status: 401, code: "unauthenticated"},
		{name: "bad request", err: fmt.Errorf("%w: return URL refused", ErrBadRequest), want: kindBadRequest, status: 400, code: "bad_request"},
		{name: "csrf", err: fmt.Errorf("%w: Origin", ErrCSRF), want: kindCSRF, status: 403, code: "csrf"},
		{name: "method", err: ErrMethod, want: kindMethod, status: 405, code: "method_not_allowed"},
		{name: "login failed wrapping invalid_grant", err: fmt.Errorf("%w: %w", ErrLoginFailed, oidc.ErrInvalidGrant), want: kindLoginFailed, status: 400, code: "login_failed"},
		{name: "not found", err: ErrNotFound, want: kindNotFound, status: 404, code: "not_found"},
		{name: "untrusted peer", err: fmt.Errorf("parse: %w", forward.ErrUntrustedPeer), want: kindUntrustedPeer, status: 403, code: "untrusted_peer"},
		{name: "malformed forwarded headers", err: forward.ErrMalformed, want: kindBadRequest, status: 400, code: "bad_request"},
		{name: "invalid path", err: policy.ErrInvalidPath, want: kindBadRequest, status: 400, code: "bad_request"},
		{name: "store down", err: fmt.Errorf("session: load: %w", session.ErrUnavailable), want: kindUnavailable, status: 503, code: "unavailable"},
		{name: "lock held", err: session.ErrLocked, want: kindUnavailable, status: 503, code: "unavailable"},
		{name: "discovery not loaded", err: oidc.ErrNotReady, want: kindUnavailable, status: 503, code: "unavailable"},
		{name: "transient refresh failure", err: oidc.ErrRefresh, want: kindUnavailable, status: 503, code: "unavailable"},
		{name: "deadline", err: context.DeadlineExceeded, want: kindUnavailable, status: 503, code: "unavailable"},
		{name: "store deadline", err: fmt.Errorf("session: load: %w: %w", session.ErrUnavailable, context.DeadlineExceeded), want: kindUnavailable, status: 503, code: "unavailable"},
		{name: "store call canceled by the client", err: fmt.Errorf("session: load: %w: %w", session.ErrUnavailable, context.Canceled), want: kindCanceled, status: 499, code: "canceled"},
		{name: "canceled", err: context.Canceled, want: kindCanceled, status: 499, code: "canceled"},
		{name: "session not found", err: session.ErrNotFound, want: kindUnauthenticated, status: 401, code: "unauthenticated"},
		{name: "session expired", err: errSpent, want: kindUnauthenticated, status: 401, code: "unauthenticated"},
		{name: "malformed cookie", err: session.ErrMalformedCookie, want: kindUnauthenticated, status: 401, code: "unauthenticated"},
		{name: "refresh refused", err: oidc.ErrInvalidGrant, want: kindUnauthenticated, status: 401, code: "unauthenticated"},
		{name: "bad access token", err: oidc.ErrAccessToken, want: kindUnauthenticated, status: 401, code: "unauthenticated"},
		{name: "nonce", err: oidc.ErrNonce, want: kindLoginFailed, status: 400, code: "login_failed"},
		{name: "id_token", err: oidc.ErrIDToken, want: kindLoginFailed, status: 400, code: "login_failed"},
		{name: "exchange", err: oidc.ErrExchange, want: kindLoginFailed, status: 400, code: "login_failed"},
		{name: "anything else", err: errors.New("boom"), want: kindInternal, status: 500, code: "internal"},
		{name: "a panic", err: errInternal, want: kindInternal, status: 500, code: "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := classify(tt.err); got != tt.want {
				t.Fatalf("classify = %d (%s), want %d (%s)", got, got.answer().code, tt.want, tt.want.answer().code)
			}
			rec := httptest.NewRecorder()
			writeError(rec, tt.err, dialectForwarded)
			if rec.Code != tt.status || decodeJSON(t, rec.Body.String())["error"] != tt.code {
				t.Errorf("writeError: %d %s, want %d with error %q", rec.Code, rec.Body, tt.status, tt.code)
			}
		})
	}
}

// TestKindsComplete: every kind has its own sentinel and a full answer.
func TestKindsComplete(t *testing.T) {
	t.Parallel()
	seen := map[error]errKind{}
	for k := range numKinds {
		e := kinds[k]
		if e.err == nil || e.status < http.StatusBadRequest || e.code == "" || e.outcome == "" || e.message == "" {
			t.Errorf("kind %d: incomplete entry %+v", k, e)
		}
		if prev, ok := seen[e.err]; ok {
			t.Errorf("kinds %d and %d share the sentinel %v", prev, k, e.err)
		}
		seen[e.err] = k
		if got := classify(e.err); got != k {
			t.Errorf("classify(%v) = %d, want %d", e.err, got, k)
		}
	}
}
