package jwtauth

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

var bodyForbidden = map[string]any{"error": "forbidden", "message": "requires one of the roles: admin, branch-manager"}

// TestMiddlewareAndRoles: the answers of Middleware and RequireAnyRole
// (package ginjwt's test wants the same from the gin adapters).
func TestMiddlewareAndRoles(t *testing.T) {
	t.Parallel()
	a := keysA()
	v := pemHMACVerifier(t, newClock(), 0)
	roles := []string{"admin", "branch-manager"}

	mux := http.NewServeMux()
	mux.Handle("/products", v.Middleware(claimsHandler(t)))
	mux.Handle("/admin", v.Middleware(RequireAnyRole(roles...)(claimsHandler(t))))
	mux.Handle("/unguarded-admin", RequireAnyRole(roles...)(claimsHandler(t)))
	std := httptest.NewServer(mux)
	t.Cleanup(std.Close)

	admin := sign(t, jwt.SigningMethodHS256, a.hmac, "", claims(issHMAC))
	user := sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "roles", []string{"user"}))
	okBody := map[string]any{"sub": "user-1", "iss": issHMAC}

	for _, tt := range []struct {
		name      string
		path      string
		token     string
		status    int
		challenge string
		body      map[string]any
	}{
		{name: "valid token", path: "/products", token: admin, status: 200, body: okBody},
		{name: "no token", path: "/products", status: 401, challenge: challengeNoToken, body: bodyNoToken},
		{name: "bad token", path: "/products", token: admin + "x", status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "role present", path: "/admin", token: admin, status: 200, body: okBody},
		{name: "role missing", path: "/admin", token: user, status: 403, body: bodyForbidden},
		{name: "role check without verifier fails closed", path: "/unguarded-admin", token: admin, status: 401, challenge: challengeNoToken, body: bodyNoToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var auth []string
			if tt.token != "" {
				auth = []string{"Bearer " + tt.token}
			}
			got := do(t, std.URL+tt.path, auth)
			if got.status != tt.status {
				t.Errorf("status = %d, want %d", got.status, tt.status)
			}
			if got.challenge != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got.challenge, tt.challenge)
			}
			if tt.status != 200 && !strings.HasPrefix(got.contentType, "application/json") {
				t.Errorf("Content-Type = %q", got.contentType)
			}
			if diff := cmp.Diff(tt.body, got.body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRejectionLoggedWithoutToken checks the reason is logged at debug and
// the token never is.
func TestRejectionLoggedWithoutToken(t *testing.T) {
	t.Parallel()
	a := keysA()
	var logs testkit.LogBuffer
	cfg := testConfig(t, newClock(), "http://127.0.0.1:1/unused")
	cfg.Issuers = cfg.Issuers[:2]
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v := newVerifier(t, cfg)
	srv := httptest.NewServer(v.Middleware(claimsHandler(t)))
	t.Cleanup(srv.Close)

	expired := sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "exp", t0.Unix()-3600))
	got := do(t, srv.URL+"/products", []string{"Bearer " + expired})
	if got.status != 401 {
		t.Fatalf("status = %d", got.status)
	}
	out := logs.String()
	if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, "token expired") {
		t.Errorf("reason not logged at warn:\n%s", out)
	}
	for i, part := range strings.Split(expired, ".") {
		if strings.Contains(out, part) {
			t.Errorf("log contains token segment %d:\n%s", i, out)
		}
	}
	if strings.Contains(out, string(a.hmac)) {
		t.Error("log contains the secret")
	}
}
