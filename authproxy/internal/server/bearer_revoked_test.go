package server

import (
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// TestBearerAccessTokenRevoked (review of issue 10, finding 1): authproxy
// checks a bearer access token against its own copy of the revocations, so
// a revoked one (its sid, or its subject up to its iat) is refused with 401
// and cannot be swapped for a fresh gateway token; one issued after a
// subject's revocation passes.
func TestBearerAccessTokenRevoked(t *testing.T) {
	t.Parallel()
	src := &memRevocations{}
	_, ps := newEnv(t, envOpts{revocations: src})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	access := loadSession(t, p, cookie).AccessToken
	sid := session.AccessTokenSID(access)
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(access, &claims); err != nil || claims.IssuedAt == nil || sid == "" {
		t.Fatalf("access token: %v (iat %v, sid %q), want iat and sid", err, claims.IssuedAt, sid)
	}
	iat := claims.IssuedAt.Unix()

	tests := []struct {
		name   string
		revs   session.Revocations
		uri    string
		status int
		user   string // X-Auth-Request-User on 200
	}{
		{name: "nothing revoked", revs: session.Revocations{Version: "e.1"}, uri: "/admin/x", status: http.StatusOK, user: adminID},
		{name: "session revoked", revs: session.Revocations{Version: "e.2", Sessions: []string{sid}}, uri: "/admin/x", status: http.StatusUnauthorized},
		{name: "session revoked, gateway token rule", revs: session.Revocations{Version: "e.3", Sessions: []string{sid}}, uri: "/account/me", status: http.StatusUnauthorized},
		{name: "subject revoked after issue", revs: session.Revocations{Version: "e.4", Subjects: map[string]int64{adminID: iat}}, uri: "/admin/x", status: http.StatusUnauthorized},
		{name: "subject revoked before issue", revs: session.Revocations{Version: "e.5", Subjects: map[string]int64{adminID: iat - 1}}, uri: "/admin/x", status: http.StatusOK, user: adminID},
		{name: "other session and subject", revs: session.Revocations{Version: "e.6", Sessions: []string{"other"}, Subjects: map[string]int64{"other": iat}}, uri: "/admin/x", status: http.StatusOK, user: adminID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share the revocation store.
			src.set(tt.revs, false)
			if err := p.srv.revoked.Poll(t.Context()); err != nil {
				t.Fatalf("poll: %v", err)
			}
			resp, body := fwd{uri: tt.uri, bearer: access, accept: jsonAccept}.send(t, p, dialectForwarded)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == http.StatusOK {
				if got := resp.Header.Get(HeaderUser); got != tt.user {
					t.Errorf("%s = %q, want %q", HeaderUser, got, tt.user)
				}
			}
			if tt.status == http.StatusUnauthorized && resp.Header.Get("Authorization") != "" {
				t.Error("a revoked access token was answered with a gateway token")
			}
		})
	}
}

// TestBearerRevocationsStale: while authproxy's copy of the revocations is
// stale (here never read: the store does not answer), session rules refuse
// every bearer access token with 503 (fail safe, as the services) and
// public rules still pass, as anonymous.
func TestBearerRevocationsStale(t *testing.T) {
	t.Parallel()
	src := &memRevocations{down: true}
	_, ps := newEnv(t, envOpts{revocations: src})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	access := loadSession(t, p, cookie).AccessToken
	if err := p.srv.revoked.Poll(t.Context()); err == nil {
		t.Fatal("poll of a store that does not answer succeeded")
	}
	tests := []struct {
		name   string
		uri    string
		status int
	}{
		{name: "session rule", uri: "/admin/x", status: http.StatusServiceUnavailable},
		{name: "public rule", uri: "/products/1", status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := fwd{uri: tt.uri, bearer: access, accept: jsonAccept}.send(t, p, dialectForwarded)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get(HeaderUser); got != "" {
				t.Errorf("%s = %q, want anonymous", HeaderUser, got)
			}
		})
	}
}
