package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/e2e"
	"github.com/gatewarden/gatewarden/hack/stack"
	"github.com/gatewarden/gatewarden/hack/testkit/pgserver"
)

// TestPostgres runs the shared data checks (reads, writes by role, cross-site refusals, parallel
// adjustments) through every front proxy with catalog and inventory on a real PostgreSQL (one
// server, a database per service, as the chart's default does) instead of the embedded default.
func TestPostgres(t *testing.T) {
	// Not parallel: see TestThroughProxies.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := pgserver.Start(ctx)
	if errors.Is(err, pgserver.ErrNotInstalled) {
		requireTool(t, false, "postgresql (apt-get install postgresql)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close() })
	for i, p := range stack.Proxies() {
		t.Run(string(p), func(t *testing.T) {
			ok, what := proxyAvailable(p)
			requireTool(t, ok, what)
			catalog, err := pg.CreateDatabase(ctx, fmt.Sprintf("catalog_%d", i))
			if err != nil {
				t.Fatal(err)
			}
			inventory, err := pg.CreateDatabase(ctx, fmt.Sprintf("inventory_%d", i))
			if err != nil {
				t.Fatal(err)
			}
			e2e.Data(t, target(startStackWith(t, stack.Options{Proxy: p, CatalogDatabase: catalog, InventoryDatabase: inventory})))
		})
	}
}
