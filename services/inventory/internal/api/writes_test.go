package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatewarden/gatewarden/services/internal/svctest"
	"github.com/gatewarden/gatewarden/services/inventory/internal/stock"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

func (e *env) do(t *testing.T, method, path, token, body string) svctest.Response {
	t.Helper()
	return svctest.Do(t, e.srv.Client(), method, e.srv.URL+path, token, body)
}

// firstItem is branch's first stock row as stored now.
func (e *env) firstItem(t *testing.T, branch int64) stock.Item {
	t.Helper()
	_, items, err := e.store.Stock(context.Background(), branch)
	if err != nil || len(items) == 0 {
		t.Fatalf("stock(%d): %v, %d items", branch, err, len(items))
	}
	return items[0]
}

// TestWritesByRoleAndBranch tries both writes as every kind of caller on
// branch 1 (the manager's) and branch 2 (not the manager's): admin may
// write anywhere, a branch manager only in the branches of its claim,
// nobody else anywhere; refused writes leave the data unchanged.
func TestWritesByRoleAndBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		caller string
		branch int64
		status int
		code   string
	}{
		{caller: "admin", branch: 1, status: http.StatusOK},
		{caller: "admin", branch: 2, status: http.StatusOK},
		{caller: "manager", branch: 1, status: http.StatusOK},
		{caller: "manager", branch: 2, status: http.StatusForbidden, code: CodeForbidden},
		{caller: "manager 2,3,99", branch: 1, status: http.StatusForbidden, code: CodeForbidden},
		{caller: "manager 2,3,99", branch: 2, status: http.StatusOK},
		{caller: "manager 01", branch: 1, status: http.StatusForbidden, code: CodeForbidden},
		{caller: "manager no claim", branch: 1, status: http.StatusForbidden, code: CodeForbidden},
		{caller: "customer", branch: 1, status: http.StatusForbidden, code: CodeForbidden},
		{caller: "no roles", branch: 1, status: http.StatusForbidden, code: CodeForbidden},
		{caller: "none", branch: 1, status: http.StatusUnauthorized, code: "unauthenticated"},
		{caller: "admin for catalog", branch: 1, status: http.StatusUnauthorized, code: "invalid_token"},
		{caller: "admin other iss", branch: 1, status: http.StatusUnauthorized, code: "invalid_token"},
	}
	for _, tt := range tests {
		for _, write := range []string{"set", "adjust"} {
			t.Run(fmt.Sprintf("%s %s branch %d", strings.ReplaceAll(tt.caller, ",", "+"), write, tt.branch), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, nil) // each case its own data
				tok := e.tokens(t)[tt.caller]
				before := e.firstItem(t, tt.branch)
				path := fmt.Sprintf("/branches/%d/products/%d", tt.branch, before.ProductID)
				var resp svctest.Response
				if write == "set" {
					resp = e.do(t, http.MethodPut, path, tok, fmt.Sprintf(`{"quantity":%d,"version":%d}`, before.Quantity+7, before.Version))
				} else {
					resp = e.do(t, http.MethodPost, path+"/adjustments", tok, `{"delta":7}`)
				}
				if resp.Status != tt.status {
					t.Fatalf("status = %d, want %d; body %s", resp.Status, tt.status, resp.Body)
				}
				after := e.firstItem(t, tt.branch)
				if tt.status != http.StatusOK {
					var body httpkit.ErrorResponse
					resp.JSON(t, &body)
					if body.Error != tt.code {
						t.Errorf("error = %q, want %q", body.Error, tt.code)
					}
					if after != before {
						t.Fatalf("a refused write changed the row: %+v -> %+v", before, after)
					}
					return
				}
				var got Change
				resp.JSON(t, &got)
				if got.BranchID != tt.branch || got.Item != after || after.Quantity != before.Quantity+7 || after.Version != before.Version+1 {
					t.Fatalf("answer %+v, row %+v -> %+v", got, before, after)
				}
			})
		}
	}
}

// TestWritesOnEachBackend checks the 400/404/409 answers and parallel
// writers through HTTP against the embedded default and a real PostgreSQL.
func TestWritesOnEachBackend(t *testing.T) {
	t.Parallel()
	pg := svctest.StartPostgres(t)
	for _, b := range svctest.Backends(t, pg) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnvAt(t, nil, b.URL)
			admin := e.tokens(t)["admin"]
			it := e.firstItem(t, 1)
			path := fmt.Sprintf("/branches/1/products/%d", it.ProductID)
			steps := []struct {
				name, method, path, body string
				status                   int
				code                     string
			}{
				{name: "set", method: http.MethodPut, path: path, body: fmt.Sprintf(`{"quantity":4,"version":%d}`, it.Version), status: http.StatusOK},
				{name: "stale version", method: http.MethodPut, path: path, body: fmt.Sprintf(`{"quantity":9,"version":%d}`, it.Version), status: http.StatusConflict, code: CodeConflict},
				{name: "negative quantity", method: http.MethodPut, path: path, body: fmt.Sprintf(`{"quantity":-1,"version":%d}`, it.Version+1), status: http.StatusBadRequest, code: CodeInvalid},
				{name: "missing version", method: http.MethodPut, path: path, body: `{"quantity":1}`, status: http.StatusBadRequest, code: CodeInvalid},
				{name: "missing quantity", method: http.MethodPut, path: path, body: `{"version":2}`, status: http.StatusBadRequest, code: CodeInvalid},
				{name: "unknown field", method: http.MethodPut, path: path, body: `{"quantity":1,"version":2,"branch":2}`, status: http.StatusBadRequest, code: CodeBadBody},
				{name: "not JSON", method: http.MethodPost, path: path + "/adjustments", body: `delta=1`, status: http.StatusBadRequest, code: CodeBadBody},
				{name: "below zero", method: http.MethodPost, path: path + "/adjustments", body: `{"delta":-5}`, status: http.StatusConflict, code: CodeInsufficient},
				{name: "take the last four", method: http.MethodPost, path: path + "/adjustments", body: `{"delta":-4}`, status: http.StatusOK},
				{name: "zero delta", method: http.MethodPost, path: path + "/adjustments", body: `{"delta":0}`, status: http.StatusBadRequest, code: CodeInvalid},
				{name: "product not stocked", method: http.MethodPost, path: "/branches/1/products/999999/adjustments", body: `{"delta":1}`, status: http.StatusNotFound, code: CodeNotFound},
				{name: "unknown branch", method: http.MethodPost, path: fmt.Sprintf("/branches/999/products/%d/adjustments", it.ProductID), body: `{"delta":1}`, status: http.StatusNotFound, code: CodeNotFound},
				{name: "bad product id", method: http.MethodPut, path: "/branches/1/products/0x1", body: `{}`, status: http.StatusBadRequest, code: CodeBadID},
			}
			for _, st := range steps {
				resp := e.do(t, st.method, st.path, admin, st.body)
				if resp.Status != st.status {
					t.Fatalf("%s: status %d, want %d; body %s", st.name, resp.Status, st.status, resp.Body)
				}
				if st.code != "" {
					var body httpkit.ErrorResponse
					resp.JSON(t, &body)
					if body.Error != st.code || body.Message == "" {
						t.Errorf("%s: body %s, want %q with a message", st.name, resp.Body, st.code)
					}
				}
			}

			// Parallel writers through HTTP: every adjustment counts.
			manager := e.tokens(t)["manager"]
			const writers, each = 6, 5
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for range each {
						if r := e.do(t, http.MethodPost, path+"/adjustments", manager, `{"delta":1}`); r.Status != http.StatusOK {
							t.Errorf("adjust: %d %s", r.Status, r.Body)
						}
					}
				})
			}
			wg.Wait()
			if got := e.firstItem(t, 1).Quantity; got != writers*each {
				t.Fatalf("after %d parallel +1 from 0: quantity %d", writers*each, got)
			}
		})
	}
}
