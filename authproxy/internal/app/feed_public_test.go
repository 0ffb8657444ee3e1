package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/server"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// TestStaleFeedKeepsPublicRoutes (review of issue 10, finding 2): with the
// feed gone, a service refuses the user's gateway token with 503 once the
// staleness bound has passed, and still accepts the anonymous gateway
// token a public rule gets, which no revocation can match.
func TestStaleFeedKeepsPublicRoutes(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	catalog := service(t, jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: e.replicaA, JWKSURL: e.replicaA + "/.well-known/jwks.json"}},
		Audience: "catalog",
		Revocations: &jwtauth.RevocationConfig{
			URL: e.replicaB + server.FeedPath, Interval: time.Second,
			// The test's replicas differ in origin; in a deployment the
			// feed and the JWKS are the same Service (the default finds it).
			GatewayIssuer: e.replicaA,
		},
	})
	anonymous := anonymousToken(t, e.replicaA, "/products/1")
	for name, tok := range map[string]string{"user": e.gatewayToken, "anonymous": anonymous} {
		if code := call(t, catalog, tok); code != http.StatusOK {
			t.Fatalf("before: %s token answered %d, want 200", name, code)
		}
	}
	e.feedServer.Close()
	waitUnavailable(t, catalog, e.gatewayToken)
	if code := call(t, catalog, anonymous); code != http.StatusOK {
		t.Errorf("anonymous gateway token with the feed stale: %d, want 200", code)
	}
}

// anonymousToken is the gateway token replica forwards for GET uri
// without a credential (a public rule).
func anonymousToken(t *testing.T, replica, uri string) string {
	t.Helper()
	code, tok := askAuthz(t, replica, uri, nil, "")
	if code != http.StatusOK || tok == "" {
		t.Fatalf("authz %s: %d, no bearer token", uri, code)
	}
	return tok
}

// waitUnavailable waits until srv answers token with 503, failing at once
// on any answer but 200 (still accepted) and 503.
func waitUnavailable(t *testing.T, srv *httptest.Server, token string) {
	t.Helper()
	testkit.WaitUntil(t, "the service refuses the token with 503", 30*time.Second, func(context.Context) error {
		switch code := call(t, srv, token); code {
		case http.StatusServiceUnavailable:
			return nil
		case http.StatusOK:
			return errors.New("still accepted")
		default:
			return testkit.Abort(fmt.Errorf("the service answered %d, want 200 then 503", code))
		}
	})
}
