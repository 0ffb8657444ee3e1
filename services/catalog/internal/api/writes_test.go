package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatewarden/gatewarden/services/catalog/internal/products"
	"github.com/gatewarden/gatewarden/services/internal/svctest"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

const mug = `{"name":"Test Mug","description":"A mug.","price_cents":990,"currency":"EUR","category":"test"}`

// TestWritesNeedAdmin tries every write as every kind of caller: only a
// valid catalog token with the role admin may change anything, and a
// refused write leaves the data as it was.
func TestWritesNeedAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	manager := e.issuer.Token(t, audience, "max", []string{svctest.RoleBranchManager}, "1")
	adminForInventory := e.issuer.Token(t, "inventory", "ada", []string{svctest.RoleAdmin})
	adminLookalike := e.issuer.Token(t, audience, "eve", []string{"Admin", "admin ", "administrator"})
	update := `{"name":"Hacked","price_cents":1,"currency":"EUR","version":1}`
	writes := []struct{ method, path, body string }{
		{method: http.MethodPost, path: "/products", body: mug},
		{method: http.MethodPut, path: "/products/1", body: update},
		{method: http.MethodDelete, path: "/products/1"},
	}
	callers := []struct {
		name, token string
		status      int
	}{
		{name: "anonymous", token: "", status: http.StatusUnauthorized},
		{name: "customer", token: e.token, status: http.StatusForbidden},
		{name: "branch manager", token: manager, status: http.StatusForbidden},
		{name: "role names that only look like admin", token: adminLookalike, status: http.StatusForbidden},
		{name: "admin token minted for inventory", token: adminForInventory, status: http.StatusUnauthorized},
	}
	before := e.count(t)
	for _, c := range callers {
		for _, w := range writes {
			t.Run(c.name+" "+w.method, func(t *testing.T) {
				t.Parallel()
				resp := e.do(t, w.method, w.path, c.token, w.body)
				if resp.Status != c.status {
					t.Fatalf("status = %d, want %d; body %s", resp.Status, c.status, resp.Body)
				}
				var body httpkit.ErrorResponse
				resp.JSON(t, &body)
				if c.status == http.StatusForbidden && (body.Error != CodeForbidden || !strings.Contains(body.Message, "admin")) {
					t.Errorf("403 body = %s", resp.Body)
				}
			})
		}
	}
	t.Cleanup(func() {
		p, err := e.store.Get(context.Background(), 1)
		if err != nil || p.Name == "Hacked" || p.Version != 1 || e.count(t) != before {
			t.Errorf("a refused write changed data: %+v, %v, count %d -> %d", p, err, before, e.count(t))
		}
	})
}

// TestWritesOnEachBackend runs the admin's write cycle and its 400/404/409
// answers against the embedded default and a real PostgreSQL.
func TestWritesOnEachBackend(t *testing.T) {
	t.Parallel()
	pg := svctest.StartPostgres(t)
	for _, b := range svctest.Backends(t, pg) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnvAt(t, nil, b.URL)
			resp := e.do(t, http.MethodPost, "/products", e.admin, mug)
			if resp.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", resp.Status, resp.Body)
			}
			var p products.Product
			resp.JSON(t, &p)
			if loc := resp.Header.Get("Location"); loc != fmt.Sprintf("/products/%d", p.ID) || p.Version != 1 {
				t.Fatalf("create: Location %q, product %+v", loc, p)
			}
			path := fmt.Sprintf("/products/%d", p.ID)
			steps := []struct {
				name, method, path, body string
				status                   int
				code                     string // error code; "" for success
			}{
				{name: "update", method: http.MethodPut, path: path, status: http.StatusOK,
					body: `{"name":"Test Mug XL","price_cents":1290,"currency":"EUR","version":1}`},
				{name: "stale version", method: http.MethodPut, path: path, status: http.StatusConflict, code: CodeConflict,
					body: `{"name":"Lost","price_cents":1,"currency":"EUR","version":1}`},
				{name: "missing version", method: http.MethodPut, path: path, status: http.StatusBadRequest, code: CodeInvalid,
					body: `{"name":"x","price_cents":1,"currency":"EUR"}`},
				{name: "invalid fields, all named", method: http.MethodPut, path: path, status: http.StatusBadRequest, code: CodeInvalid,
					body: `{"name":"","price_cents":-5,"currency":"euro","version":2}`},
				{name: "unknown field", method: http.MethodPost, path: "/products", status: http.StatusBadRequest, code: CodeBadBody,
					body: `{"name":"x","price_cents":1,"currency":"EUR","id":1}`},
				{name: "not JSON", method: http.MethodPost, path: "/products", status: http.StatusBadRequest, code: CodeBadBody, body: `name=x`},
				{name: "bad id", method: http.MethodPut, path: "/products/01", status: http.StatusBadRequest, code: CodeBadID, body: `{}`},
				{name: "update unknown", method: http.MethodPut, path: "/products/999999", status: http.StatusNotFound, code: CodeNotFound,
					body: `{"name":"x","price_cents":1,"currency":"EUR","version":1}`},
				{name: "delete", method: http.MethodDelete, path: path, status: http.StatusNoContent},
				{name: "delete again", method: http.MethodDelete, path: path, status: http.StatusNotFound, code: CodeNotFound},
				{name: "gone", method: http.MethodGet, path: path, status: http.StatusNotFound, code: CodeNotFound},
			}
			for _, st := range steps {
				resp := e.do(t, st.method, st.path, e.admin, st.body)
				if resp.Status != st.status {
					t.Fatalf("%s: status %d, want %d; body %s", st.name, resp.Status, st.status, resp.Body)
				}
				if st.code == "" {
					continue
				}
				var body httpkit.ErrorResponse
				resp.JSON(t, &body)
				if body.Error != st.code || body.Message == "" {
					t.Errorf("%s: body %s, want error %q with a message", st.name, resp.Body, st.code)
				}
				if st.name == "invalid fields, all named" {
					for _, field := range []string{"name:", "price_cents:", "currency:"} {
						if !strings.Contains(body.Message, field) {
							t.Errorf("message %q does not name %s", body.Message, field)
						}
					}
				}
			}
		})
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		query  string
		status int
		total  int
	}{
		{name: "word", query: "?q=syrup", status: http.StatusOK, total: 3},
		{name: "case and spaces", query: "?q=%20SYRUP%20", status: http.StatusOK, total: 3},
		{name: "no match", query: "?q=zzz", status: http.StatusOK, total: 0},
		{name: "empty means all", query: "?q=", status: http.StatusOK, total: -1},
		{name: "repeated", query: "?q=a&q=b", status: http.StatusBadRequest},
		{name: "too long", query: "?q=" + strings.Repeat("a", MaxSearch+1), status: http.StatusBadRequest},
		{name: "control character", query: "?q=a%0Ab", status: http.StatusBadRequest},
		{name: "invalid UTF-8", query: "?q=%ff", status: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := e.get(t, "/products"+tt.query, e.token)
			if resp.Status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.Status, tt.status, resp.Body)
			}
			if tt.status != http.StatusOK {
				var body httpkit.ErrorResponse
				resp.JSON(t, &body)
				if body.Error != CodeBadSearch {
					t.Errorf("error = %q, want %q", body.Error, CodeBadSearch)
				}
				return
			}
			var page Page
			resp.JSON(t, &page)
			if tt.total >= 0 && page.Total != tt.total {
				t.Errorf("total = %d, want %d", page.Total, tt.total)
			}
		})
	}
}
