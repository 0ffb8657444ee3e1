package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// stockRow is one row of GET /branches/{id}/products.
type stockRow struct {
	ProductID int64 `json:"product_id"`
	Quantity  int   `json:"quantity"`
	Version   int64 `json:"version"`
}

// product is GET /products/{id}; its fields without id are the body of a PUT.
type product struct {
	ID          int64  `json:"id,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
	Version     int64  `json:"version"`
}

// firstStockRow reads branch's first stock row through the gateway.
func (tg *Target) firstStockRow(t *testing.T, c *http.Client, branch int) stockRow {
	t.Helper()
	return tg.stockRows(t, c, branch)[0]
}

// lastStockRow reads branch's last stock row (of the first page) through the gateway.
func (tg *Target) lastStockRow(t *testing.T, c *http.Client, branch int) stockRow {
	t.Helper()
	rows := tg.stockRows(t, c, branch)
	return rows[len(rows)-1]
}

// stockRows reads the first page of branch's stock through the gateway (at least one row).
func (tg *Target) stockRows(t *testing.T, c *http.Client, branch int) []stockRow {
	t.Helper()
	r := get(t, c, fmt.Sprintf("%s/branches/%d/products", tg.GatewayURL, branch), hdr("Accept", acceptJSON))
	if r.status != http.StatusOK {
		t.Fatalf("read branch %d: %v", branch, r)
	}
	var body struct {
		Items []stockRow `json:"items"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Items) == 0 {
		t.Fatalf("branch %d stock: %v %s", branch, err, r.body)
	}
	return body.Items
}

// readProduct reads one product through the gateway, anonymously.
func (tg *Target) readProduct(t *testing.T, id int64) product {
	t.Helper()
	r := get(t, tg.NewClient(t, false), fmt.Sprintf("%s/products/%d", tg.GatewayURL, id), hdr("Accept", acceptJSON))
	if r.status != http.StatusOK {
		t.Fatalf("read product %d: %v", id, r)
	}
	var p product
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("product %d: %v %s", id, err, r.body)
	}
	return p
}

// updateBody is a PUT /products/{id} body: p's fields as they are, based on version.
func updateBody(t *testing.T, p product, version int64) string {
	t.Helper()
	p.ID, p.Version = 0, version
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testWrites: writes through the front proxy, as a browser on the shop's own page would send
// them (Origin and Sec-Fetch-Site: same-origin), by role; the same writes from another origin
// are refused by authproxy, which proves the proxy forwards both headers. The data is read
// first, so the check passes on a deployment that has seen writes before.
func testWrites(t *testing.T, tg *Target) {
	admin := tg.Login(t, "admin@example.com")
	manager := tg.Login(t, "manager@example.com")
	customer := tg.Login(t, "customer@example.com")
	same := tg.sameOrigin
	row1 := tg.firstStockRow(t, admin, 1)
	row2 := tg.firstStockRow(t, admin, 2)
	adjust1 := fmt.Sprintf("/branches/1/products/%d/adjustments", row1.ProductID)
	adjust2 := fmt.Sprintf("/branches/2/products/%d/adjustments", row2.ProductID)
	p1 := tg.readProduct(t, 1)
	update := updateBody(t, p1, p1.Version)

	tests := []struct {
		name         string
		client       *http.Client
		method, path string
		body         string
		header       http.Header
		status       int
		code, rule   string // the refusal's error code and, for the gateway's rules, the rule
	}{
		{name: "customer may not change a product (gateway rule)", client: customer, method: http.MethodPut, path: "/products/1", body: update, header: same(), status: 403, code: "forbidden", rule: "catalog-write"},
		{name: "manager may not create a product (gateway rule)", client: manager, method: http.MethodPost, path: "/products", body: `{"name":"x","price_cents":1,"currency":"EUR"}`, header: same(), status: 403, code: "forbidden", rule: "catalog-write"},
		{name: "customer may not change stock (gateway rule)", client: customer, method: http.MethodPost, path: adjust1, body: `{"delta":1}`, header: same(), status: 403, code: "forbidden", rule: "branch-stock-adjust"},
		{name: "manager may not change branch 2 (inventory)", client: manager, method: http.MethodPost, path: adjust2, body: `{"delta":1}`, header: same(), status: 403, code: "forbidden"},
		{name: "admin from another origin is refused (Origin forwarded)", client: admin, method: http.MethodPost, path: adjust2, body: `{"delta":1}`,
			header: hdr("Accept", acceptJSON, "Content-Type", "application/json", "Origin", "http://evil.example"), status: 403, code: "csrf"},
		{name: "admin from a sibling site is refused (Sec-Fetch-Site forwarded)", client: admin, method: http.MethodDelete, path: "/products/1",
			header: hdr("Accept", acceptJSON, "Sec-Fetch-Site", "same-site"), status: 403, code: "csrf"},
		{name: "admin without Origin or Sec-Fetch-Site is refused", client: admin, method: http.MethodPut, path: "/products/1", body: update,
			header: hdr("Accept", acceptJSON, "Content-Type", "application/json"), status: 403, code: "csrf"},
		{name: "manager changes branch 1", client: manager, method: http.MethodPost, path: adjust1, body: `{"delta":2}`, header: same(), status: 200},
		{name: "admin changes branch 2", client: admin, method: http.MethodPost, path: adjust2, body: `{"delta":1}`, header: same(), status: 200},
		{name: "admin updates a product", client: admin, method: http.MethodPut, path: "/products/1", body: update, header: same(), status: 200},
		{name: "a stale version is a 409", client: admin, method: http.MethodPut, path: "/products/1", body: update, header: same(), status: 409, code: "version_conflict"},
		{name: "below zero is a 409", client: manager, method: http.MethodPost, path: adjust1, body: `{"delta":-1000000}`, header: same(), status: 409, code: "insufficient_stock"},
	}
	for _, tt := range tests { // in order: later steps depend on earlier ones
		m := marker(t)
		r := do(t, tt.client, tt.method, tg.GatewayURL+tt.path+"?"+m, strings.NewReader(tt.body), tt.header)
		if r.status != tt.status {
			t.Fatalf("%s: want %d, got %v", tt.name, tt.status, r)
		}
		if tt.code == "" {
			continue
		}
		_, atCatalog, knownC := lookup(tg.Catalog, m)
		_, atInventory, knownI := lookup(tg.Inventory, m)
		if byGateway := tt.rule != "" || tt.code == "csrf"; knownC && knownI && (atCatalog || atInventory) == byGateway {
			t.Errorf("%s: reached a service = %v; only the gateway's refusals must not", tt.name, atCatalog || atInventory)
		}
		tg.checkRefusal(t, tt.name, r, tt.code, tt.rule)
	}
	if got := tg.firstStockRow(t, admin, 1); got.Quantity != row1.Quantity+2 {
		t.Fatalf("branch 1 quantity %d, want %d", got.Quantity, row1.Quantity+2)
	}
	if got := tg.readProduct(t, 1); got.Version != p1.Version+1 || got.Name != p1.Name {
		t.Errorf("product 1 after the update: %+v, want %+v with version %d", got, p1, p1.Version+1)
	}
}

// testParallelAdjustments: parallel stock adjustments through the gateway all count. They go to
// branch 1's last row; testWrites changes its first.
func testParallelAdjustments(t *testing.T, tg *Target) {
	manager := tg.Login(t, "manager@example.com")
	const writers, each = 4, 5
	before := tg.lastStockRow(t, manager, 1)
	adjust := fmt.Sprintf("%s/branches/1/products/%d/adjustments", tg.GatewayURL, before.ProductID)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if r := do(t, manager, http.MethodPost, adjust, strings.NewReader(`{"delta":1}`), tg.sameOrigin()); r.status != http.StatusOK {
					t.Errorf("parallel adjust: %v", r)
				}
			}
		})
	}
	wg.Wait()
	if got := tg.lastStockRow(t, manager, 1); got.Quantity != before.Quantity+writers*each {
		t.Fatalf("after %d parallel +1 through the gateway: quantity %d, want %d", writers*each, got.Quantity, before.Quantity+writers*each)
	}
}

// sameOrigin is what a browser on the shop's own page sends with a JSON write.
func (tg *Target) sameOrigin() http.Header {
	return hdr("Accept", acceptJSON, "Content-Type", "application/json", "Origin", tg.GatewayURL, "Sec-Fetch-Site", "same-origin")
}

// checkRefusal checks a refusal's JSON body: its error code and, for the gateway's rules, the
// rule. A front proxy that answers refusals with its own page (nginx's auth_request) sends no
// JSON; then only the status was checked.
func (tg *Target) checkRefusal(t *testing.T, name string, r response, code, rule string) {
	t.Helper()
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") && tg.ProxyRefusalPages {
		return
	}
	got := jsonBody(t, r)
	if got["error"] != code || (rule != "" && got["rule"] != rule) {
		t.Errorf("%s: body %s, want error %q rule %q", name, r.body, code, rule)
	}
}
