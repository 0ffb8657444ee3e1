package e2e

import (
	"testing"

	"github.com/gatewarden/gatewarden/hack/e2e"
	"github.com/gatewarden/gatewarden/hack/stack"
)

// TestThroughProxies runs the shared end-to-end checks (hack/e2e) through every front proxy.
//
// A process runs one embedded Caddy at a time, and a stack waits for the one another stack
// holds. This test holds it until its parallel subtests are done, and they need free slots of
// -parallel (GOMAXPROCS): another parallel test waiting for the Caddy would hold one, and on a
// 2-core machine two of them deadlock the run. So the other tests that start the embedded Caddy
// (TestBrowser, TestEmbeddedRedis, TestPostgres) are not parallel: they run one after another
// before the parallel tests start.
func TestThroughProxies(t *testing.T) {
	t.Parallel()
	for _, p := range stack.Proxies() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			ok, what := proxyAvailable(p)
			requireTool(t, ok, what)
			e2e.Run(t, target(startStack(t, p)))
		})
	}
}

// target describes a local stack to the shared checks: everything is on 127.0.0.1, and
// recorders in front of the services show what reached them. nginx's auth_request answers a
// refused subrequest with its own 403 page, so authproxy's JSON reaches the client only
// through the other proxies.
func target(s *stack.Stack) *e2e.Target {
	return &e2e.Target{
		GatewayURL: s.GatewayURL, IdPURL: s.DevIDPURL, ClientID: stack.ClientID,
		AuthProxyURL: s.AuthProxyURL, CatalogURL: s.CatalogURL, InventoryURL: s.InventoryURL,
		Catalog: s.CatalogRecorder, Inventory: s.InventoryRecorder,
		ProxyRefusalPages: s.Proxy == stack.ProxyNginx,
	}
}

// TestEmbeddedRedis runs the stack as on a machine with nothing but Go: Redis is the embedded
// miniredis (the front proxy is the embedded Caddy, as always). Login, a role decision and
// logout need the session store.
func TestEmbeddedRedis(t *testing.T) {
	// Not parallel: see TestThroughProxies.
	s := startStackWith(t, stack.Options{Proxy: stack.ProxyCaddyEmbedded, Redis: stack.RedisEmbedded})
	if s.RedisKind != "miniredis" {
		t.Fatalf("RedisKind = %q, want miniredis", s.RedisKind)
	}
	e2e.SessionRoundTrip(t, target(s))
}
