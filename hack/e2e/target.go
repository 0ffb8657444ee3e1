package e2e

import (
	"net/http"
	"testing"
)

// Target is a running gatewarden deployment under test.
type Target struct {
	// GatewayURL is the front proxy: authproxy's public URL and the gateway tokens' issuer.
	GatewayURL string
	// IdPURL is the identity provider's issuer (the dev IdP standing in for FusionAuth).
	IdPURL string
	// ClientID is the gateway's OAuth client id at the IdP.
	ClientID string
	// Transport reaches the gateway and the IdP (nil: http.DefaultTransport). A cluster in a
	// network namespace gives one that dials into it.
	Transport http.RoundTripper

	// What else the deployment lets a test see; empty when it does not (the checks that need
	// it then check what they can and say what they skipped).

	// AuthProxyURL is authproxy's own address (its JWKS verifies what reached a service).
	AuthProxyURL string
	// CatalogURL and InventoryURL are the services' own ports, bypassing the gateway.
	CatalogURL, InventoryURL string
	// Catalog and Inventory see what reached each service.
	Catalog, Inventory Recorder
	// ProxyRefusalPages is set when the front proxy answers authproxy's refusals with a page of
	// its own (nginx's auth_request): refusal bodies are then not JSON and only the status is
	// checked.
	ProxyRefusalPages bool
}

// Recorder finds a request that reached a service by a marker in its query.
type Recorder interface {
	Seen(marker string) (http.Header, bool)
}

// lookup looks marker up in rec; known is false when the target has no recorder there.
func lookup(rec Recorder, marker string) (h http.Header, reached, known bool) {
	if rec == nil {
		return nil, false, false
	}
	h, reached = rec.Seen(marker)
	return h, reached, true
}

// Run runs every check against tg, each as a parallel subtest.
func Run(t *testing.T, tg *Target) {
	t.Helper()
	checks := []struct {
		name string
		f    func(*testing.T, *Target)
	}{
		{"anonymous products get a catalog token", testAnonymousProducts},
		{"branch inventory by role", testBranchesByRole},
		{"no session: browser is sent to login", testBrowserRedirect},
		{"no session: API client gets 401 JSON", testAPIUnauthenticated},
		{"client identity headers never reach a service", testForgedIdentity},
		{"service ports refuse requests without the right token", testDirectServiceAccess},
		{"authproxy internals are not exposed", testInternalsHidden},
		{"logout ends the session", testLogout},
		{"encoded paths cannot dodge a rule", testPathTricks},
		{"writes by role, cross-site writes refused", testWrites},
		{"parallel stock adjustments all count", testParallelAdjustments},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { t.Parallel(); c.f(t, tg) })
	}
}

// Data runs the checks that read and write the services' data (a subset of Run), each as a
// subtest: what a deployment on another database must pass.
func Data(t *testing.T, tg *Target) {
	t.Helper()
	t.Run("anonymous products get a catalog token", func(t *testing.T) { testAnonymousProducts(t, tg) })
	t.Run("branch inventory by role", func(t *testing.T) { testBranchesByRole(t, tg) })
	t.Run("writes by role, cross-site writes refused", func(t *testing.T) { testWrites(t, tg) })
	t.Run("parallel stock adjustments all count", func(t *testing.T) { testParallelAdjustments(t, tg) })
}

// SessionRoundTrip logs in as the branch manager, is allowed branch 1 and refused branch 2,
// logs out and is refused afterwards: every step needs the session store.
func SessionRoundTrip(t *testing.T, tg *Target) {
	t.Helper()
	c := tg.Login(t, "manager@example.com")
	if r := get(t, c, tg.GatewayURL+"/branches/1/products", hdr("Accept", acceptJSON)); r.status != http.StatusOK {
		t.Fatalf("manager on branch 1: want 200, got %v", r)
	}
	if r := get(t, c, tg.GatewayURL+"/branches/2/products", hdr("Accept", acceptJSON)); r.status != http.StatusForbidden {
		t.Fatalf("manager on branch 2: want 403, got %v", r)
	}
	if r := do(t, c, http.MethodPost, tg.GatewayURL+"/oauth2/logout", nil, hdr("Origin", tg.GatewayURL)); r.status != http.StatusFound && r.status != http.StatusSeeOther {
		t.Fatalf("logout: want a redirect, got %v", r)
	}
	if r := get(t, c, tg.GatewayURL+"/branches/1/products", hdr("Accept", acceptJSON)); r.status != http.StatusUnauthorized {
		t.Fatalf("after logout: want 401, got %v", r)
	}
}
