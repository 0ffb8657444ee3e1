package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/stack"
	"github.com/gatewarden/gatewarden/services/pgserver"
)

// stockRow is one row of GET /branches/{id}/products.
type stockRow struct {
	ProductID int64 `json:"product_id"`
	Quantity  int   `json:"quantity"`
	Version   int64 `json:"version"`
}

// firstStockRow reads branch's first stock row through the gateway.
func firstStockRow(t *testing.T, s *stack.Stack, c *http.Client, branch int) stockRow {
	t.Helper()
	r := get(t, c, fmt.Sprintf("%s/branches/%d/products", s.GatewayURL, branch), hdr("Accept", acceptJSON))
	if r.status != http.StatusOK {
		t.Fatalf("read branch %d: %v", branch, r)
	}
	var body struct {
		Items []stockRow `json:"items"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Items) == 0 {
		t.Fatalf("branch %d stock: %v %s", branch, err, r.body)
	}
	return body.Items[0]
}

// testWrites: writes through the front proxy, as a browser on the shop's own page would send
// them (Origin and Sec-Fetch-Site: same-origin), by role; the same writes from another origin
// are refused by authproxy, which proves the proxy forwards both headers; parallel stock
// adjustments through the gateway all count.
func testWrites(t *testing.T, s *stack.Stack) {
	admin := login(t, s, "admin@example.com")
	manager := login(t, s, "manager@example.com")
	customer := login(t, s, "customer@example.com")
	same := func(kv ...string) http.Header {
		return hdr(append([]string{"Accept", acceptJSON, "Content-Type", "application/json", "Origin", s.GatewayURL, "Sec-Fetch-Site", "same-origin"}, kv...)...)
	}
	send := func(c *http.Client, method, path, body string, h http.Header) response {
		t.Helper()
		return do(t, c, method, s.GatewayURL+path, strings.NewReader(body), h)
	}
	row1 := firstStockRow(t, s, admin, 1)
	row2 := firstStockRow(t, s, admin, 2)
	adjust1 := fmt.Sprintf("/branches/1/products/%d/adjustments", row1.ProductID)
	adjust2 := fmt.Sprintf("/branches/2/products/%d/adjustments", row2.ProductID)
	product := `{"name":"Espresso Beans 1kg","description":"Dark roast whole beans for espresso machines.","price_cents":2490,"currency":"EUR","category":"coffee","version":%d}`

	tests := []struct {
		name         string
		client       *http.Client
		method, path string
		body         string
		header       http.Header
		status       int
		code, rule   string
	}{
		{name: "customer may not change a product (gateway rule)", client: customer, method: http.MethodPut, path: "/products/1", body: fmt.Sprintf(product, 1), header: same(), status: 403, code: "forbidden", rule: "catalog-write"},
		{name: "manager may not create a product (gateway rule)", client: manager, method: http.MethodPost, path: "/products", body: `{"name":"x","price_cents":1,"currency":"EUR"}`, header: same(), status: 403, code: "forbidden", rule: "catalog-write"},
		{name: "customer may not change stock (gateway rule)", client: customer, method: http.MethodPost, path: adjust1, body: `{"delta":1}`, header: same(), status: 403, code: "forbidden", rule: "branch-stock-adjust"},
		{name: "manager may not change branch 2 (inventory)", client: manager, method: http.MethodPost, path: adjust2, body: `{"delta":1}`, header: same(), status: 403, code: "forbidden"},
		{name: "admin from another origin is refused (Origin forwarded)", client: admin, method: http.MethodPost, path: adjust2, body: `{"delta":1}`,
			header: hdr("Accept", acceptJSON, "Content-Type", "application/json", "Origin", "http://evil.example"), status: 403, code: "csrf"},
		{name: "admin from a sibling site is refused (Sec-Fetch-Site forwarded)", client: admin, method: http.MethodDelete, path: "/products/1", body: "",
			header: hdr("Accept", acceptJSON, "Sec-Fetch-Site", "same-site"), status: 403, code: "csrf"},
		{name: "admin without Origin or Sec-Fetch-Site is refused", client: admin, method: http.MethodPut, path: "/products/1", body: fmt.Sprintf(product, 1),
			header: hdr("Accept", acceptJSON, "Content-Type", "application/json"), status: 403, code: "csrf"},
		{name: "manager changes branch 1", client: manager, method: http.MethodPost, path: adjust1, body: `{"delta":2}`, header: same(), status: 200},
		{name: "admin changes branch 2", client: admin, method: http.MethodPost, path: adjust2, body: `{"delta":1}`, header: same(), status: 200},
		{name: "admin updates a product", client: admin, method: http.MethodPut, path: "/products/1", body: fmt.Sprintf(product, 1), header: same(), status: 200},
		{name: "a stale version is a 409", client: admin, method: http.MethodPut, path: "/products/1", body: fmt.Sprintf(product, 1), header: same(), status: 409, code: "version_conflict"},
		{name: "below zero is a 409", client: manager, method: http.MethodPost, path: adjust1, body: `{"delta":-1000000}`, header: same(), status: 409, code: "insufficient_stock"},
	}
	for _, tt := range tests { // in order: later steps depend on earlier ones
		m := marker(t)
		r := send(tt.client, tt.method, tt.path+"?"+m, tt.body, tt.header)
		if r.status != tt.status {
			t.Fatalf("%s: want %d, got %v", tt.name, tt.status, r)
		}
		if tt.code == "" {
			continue
		}
		_, atCatalog := s.CatalogRecorder.Find(m)
		_, atInventory := s.InventoryRecorder.Find(m)
		if reached := atCatalog || atInventory; reached != (tt.rule == "" && tt.code != "csrf") {
			t.Errorf("%s: reached a service = %v; refusals by the gateway must not", tt.name, reached)
		}
		// nginx's auth_request answers a refused subrequest with its own 403 page, so
		// authproxy's JSON reaches the client only through the other proxies.
		if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || s.Proxy != stack.ProxyNginx {
			got := jsonBody(t, r)
			if got["error"] != tt.code || (tt.rule != "" && got["rule"] != tt.rule) {
				t.Errorf("%s: body %s, want error %q rule %q", tt.name, r.body, tt.code, tt.rule)
			}
		}
	}
	if got := firstStockRow(t, s, admin, 1); got.Quantity != row1.Quantity+2 {
		t.Fatalf("branch 1 quantity %d, want %d", got.Quantity, row1.Quantity+2)
	}

	// Parallel writers through the gateway: none is lost.
	const writers, each = 4, 5
	before := firstStockRow(t, s, manager, 1)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if r := send(manager, http.MethodPost, adjust1, `{"delta":1}`, same()); r.status != http.StatusOK {
					t.Errorf("parallel adjust: %v", r)
				}
			}
		})
	}
	wg.Wait()
	if got := firstStockRow(t, s, manager, 1); got.Quantity != before.Quantity+writers*each {
		t.Fatalf("after %d parallel +1 through the gateway: quantity %d, want %d", writers*each, got.Quantity, before.Quantity+writers*each)
	}
}

// TestPostgres runs the write checks through every front proxy with catalog and inventory on a
// real PostgreSQL (one server, a database per service, as the chart's default does) instead of
// the embedded default.
func TestPostgres(t *testing.T) {
	t.Parallel()
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
			s := startStackWith(t, stack.Options{Proxy: p, CatalogDatabase: catalog, InventoryDatabase: inventory})
			testAnonymousProducts(t, s)
			testWrites(t, s)
		})
	}
}
