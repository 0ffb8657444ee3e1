package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/catalog/internal/products"
	"github.com/gatewarden/gatewarden/services/internal/database"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/internal/svctest"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

const audience = "catalog"

type env struct {
	srv    *httptest.Server
	issuer *svctest.Issuer
	store  *products.Store
	token  string // a valid customer token for catalog
	admin  string // a valid admin token for catalog
}

// newEnv serves the API over a fresh embedded database (the PostgreSQL
// runs are in TestWritesOnEachBackend and the products package).
func newEnv(t *testing.T, logs io.Writer) *env {
	t.Helper()
	return newEnvAt(t, logs, database.Memory)
}

func newEnvAt(t *testing.T, logs io.Writer, url string) *env {
	t.Helper()
	store, err := products.New(svctest.OpenDB(t, url, products.Schema()).DB)
	if err != nil {
		t.Fatal(err)
	}
	srv, iss := svctest.Serve(t, audience, logs, func(d svcmain.Deps) (http.Handler, error) { return NewRouter(d, store) })
	return &env{
		srv: srv, issuer: iss, store: store,
		token: iss.Token(t, audience, "cleo", []string{svctest.RoleUser}),
		admin: iss.Token(t, audience, "ada", []string{svctest.RoleAdmin}),
	}
}

func (e *env) do(t *testing.T, method, path, token, body string) svctest.Response {
	t.Helper()
	return svctest.Do(t, e.srv.Client(), method, e.srv.URL+path, token, body)
}

func (e *env) count(t *testing.T) int {
	t.Helper()
	_, total, err := e.store.List(context.Background(), products.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func (e *env) get(t *testing.T, path, token string) svctest.Response {
	t.Helper()
	return svctest.Get(t, e.srv.Client(), e.srv.URL+path, token)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	other := svctest.NewIssuer(t, "https://idp.test") // same iss, different key
	now := time.Now()
	tests := []struct {
		name      string
		token     string
		status    int
		challenge string // WWW-Authenticate must contain it
	}{
		{name: "no token", token: "", status: http.StatusUnauthorized, challenge: "Bearer"},
		{name: "garbage token", token: "not-a-jwt", status: http.StatusUnauthorized, challenge: `error="invalid_token"`},
		{name: "three garbage parts", token: "aaa.bbb.ccc", status: http.StatusUnauthorized, challenge: `error="invalid_token"`},
		{name: "minted for inventory", token: e.issuer.Token(t, "inventory", "cleo", nil), status: http.StatusUnauthorized, challenge: `error="invalid_token"`},
		{name: "signed by another key", token: other.Token(t, audience, "cleo", nil), status: http.StatusUnauthorized, challenge: `error="invalid_token"`},
		{name: "expired", token: e.issuer.Mint(t, jwtauth.Claims{
			Subject: "cleo", Audience: jwt.ClaimStrings{audience},
			IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(-10 * time.Minute)),
		}, nil), status: http.StatusUnauthorized, challenge: `error="invalid_token"`},
		{name: "untrusted issuer", token: svctest.NewIssuer(t, "https://evil.test").Token(t, audience, "cleo", nil),
			status: http.StatusUnauthorized, challenge: `error="invalid_token"`},
		{name: "valid, no roles needed", token: e.token, status: http.StatusOK},
	}
	for _, tt := range tests {
		for _, path := range []string{"/products", "/products/1"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				t.Parallel()
				resp := e.get(t, path, tt.token)
				if resp.Status != tt.status {
					t.Fatalf("status = %d, want %d; body %s", resp.Status, tt.status, resp.Body)
				}
				if tt.status != http.StatusUnauthorized {
					return
				}
				if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, tt.challenge) {
					t.Errorf("WWW-Authenticate = %q, want it to contain %q", got, tt.challenge)
				}
				var body httpkit.ErrorResponse
				resp.JSON(t, &body)
				if body.Error == "" || strings.Contains(string(resp.Body), "product") {
					t.Errorf("401 body = %s", resp.Body)
				}
			})
		}
	}
}

func TestListProducts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	total := e.count(t)
	ids := func(from, to int) []int64 { // inclusive range
		out := []int64{}
		for i := from; i <= to; i++ {
			out = append(out, int64(i))
		}
		return out
	}
	tests := []struct {
		name   string
		query  string
		limit  int
		offset int
		ids    []int64
	}{
		{name: "defaults", query: "", limit: DefaultLimit, offset: 0, ids: ids(1, DefaultLimit)},
		{name: "limit and offset", query: "?limit=5&offset=10", limit: 5, offset: 10, ids: ids(11, 15)},
		{name: "limit at max", query: "?limit=100", limit: MaxLimit, offset: 0, ids: ids(1, total)},
		{name: "limit above max is capped", query: "?limit=101", limit: MaxLimit, offset: 0, ids: ids(1, total)},
		{name: "huge limit is capped", query: "?limit=99999999999999999999999", limit: MaxLimit, offset: 0, ids: ids(1, total)},
		{name: "last partial page", query: fmt.Sprintf("?limit=10&offset=%d", total-3), limit: 10, offset: total - 3, ids: ids(total-2, total)},
		{name: "offset at end", query: fmt.Sprintf("?offset=%d", total), limit: DefaultLimit, offset: total, ids: []int64{}},
		{name: "offset far past end", query: "?offset=99999999999999999999", limit: DefaultLimit, offset: 1 << 30, ids: []int64{}},
		{name: "explicit zero offset", query: "?offset=0&limit=1", limit: 1, offset: 0, ids: ids(1, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := e.get(t, "/products"+tt.query, e.token)
			if resp.Status != http.StatusOK {
				t.Fatalf("status = %d; body %s", resp.Status, resp.Body)
			}
			var got Page
			resp.JSON(t, &got)
			gotIDs := []int64{}
			for _, p := range got.Items {
				gotIDs = append(gotIDs, p.ID)
			}
			if d := cmp.Diff(tt.ids, gotIDs); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if got.Total != total || got.Limit != tt.limit || got.Offset != tt.offset {
				t.Errorf("total/limit/offset = %d/%d/%d, want %d/%d/%d", got.Total, got.Limit, got.Offset, total, tt.limit, tt.offset)
			}
			if len(tt.ids) == 0 && !strings.Contains(string(resp.Body), `"items":[]`) {
				t.Errorf("empty page must have items [], got %s", resp.Body)
			}
		})
	}
}

func TestListProductsFullItems(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var got Page
	e.get(t, "/products?limit=3&offset=1", e.token).JSON(t, &got)
	want, _, _ := e.store.List(context.Background(), products.Query{Limit: 3, Offset: 1})
	if d := cmp.Diff(want, got.Items); d != "" {
		t.Errorf("items (-want +got):\n%s", d)
	}
}

func TestListProductsBadQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		query string
		code  string
	}{
		{name: "zero limit", query: "?limit=0", code: CodeBadLimit},
		{name: "negative limit", query: "?limit=-1", code: CodeBadLimit},
		{name: "non-numeric limit", query: "?limit=ten", code: CodeBadLimit},
		{name: "empty limit", query: "?limit=", code: CodeBadLimit},
		{name: "plus sign", query: "?limit=%2B5", code: CodeBadLimit},
		{name: "fraction", query: "?limit=1.5", code: CodeBadLimit},
		{name: "exponent", query: "?limit=1e2", code: CodeBadLimit},
		{name: "space", query: "?limit=%205", code: CodeBadLimit},
		{name: "repeated limit", query: "?limit=5&limit=6", code: CodeBadLimit},
		{name: "negative offset", query: "?offset=-1", code: CodeBadOffset},
		{name: "non-numeric offset", query: "?offset=x", code: CodeBadOffset},
		{name: "hex offset", query: "?offset=0x10", code: CodeBadOffset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := e.get(t, "/products"+tt.query, e.token)
			if resp.Status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body %s", resp.Status, resp.Body)
			}
			var body httpkit.ErrorResponse
			resp.JSON(t, &body)
			if body.Error != tt.code || body.Message == "" {
				t.Errorf("body = %+v, want error %q with a message", body, tt.code)
			}
		})
	}
}

func TestGetProduct(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	p7, _ := e.store.Get(context.Background(), 7)
	tests := []struct {
		name   string
		id     string
		status int
		code   string
	}{
		{name: "known", id: "7", status: http.StatusOK},
		{name: "unknown", id: "9999", status: http.StatusNotFound, code: CodeNotFound},
		{name: "zero", id: "0", status: http.StatusBadRequest, code: CodeBadID},
		{name: "negative", id: "-1", status: http.StatusBadRequest, code: CodeBadID},
		{name: "leading zero", id: "07", status: http.StatusBadRequest, code: CodeBadID},
		{name: "letters", id: "abc", status: http.StatusBadRequest, code: CodeBadID},
		{name: "too long", id: strings.Repeat("9", 30), status: http.StatusBadRequest, code: CodeBadID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := e.get(t, "/products/"+tt.id, e.token)
			if resp.Status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.Status, tt.status, resp.Body)
			}
			if tt.status == http.StatusOK {
				var got products.Product
				resp.JSON(t, &got)
				if d := cmp.Diff(p7, got); d != "" {
					t.Errorf("product (-want +got):\n%s", d)
				}
				return
			}
			var body httpkit.ErrorResponse
			resp.JSON(t, &body)
			if body.Error != tt.code {
				t.Errorf("error = %q, want %q", body.Error, tt.code)
			}
		})
	}
}

func TestOpenRoutesAndJSONErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_ = e.get(t, "/products", e.token) // something to count
	tests := []struct {
		name    string
		method  string
		path    string
		status  int
		contain string
	}{
		{name: "healthz without token", method: http.MethodGet, path: "/healthz", status: http.StatusOK, contain: `"status":"ok"`},
		{name: "readyz without token", method: http.MethodGet, path: "/readyz", status: http.StatusOK, contain: `"status":"ok"`},
		{name: "metrics without token", method: http.MethodGet, path: "/metrics",
			status: http.StatusOK, contain: `http_requests_total{method="GET",route="/products",status="200"}`},
		{name: "unknown route is JSON 404", method: http.MethodGet, path: "/nope", status: http.StatusNotFound, contain: `"error":"not_found"`},
		{name: "wrong method is JSON 405", method: http.MethodPatch, path: "/products/1", status: http.StatusMethodNotAllowed, contain: `"error":"method_not_allowed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.contain) {
				t.Errorf("%s %s = %d %s; want %d containing %s", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.contain)
			}
		})
	}
}

func TestLogsCarryRequestIDAndNoToken(t *testing.T) {
	t.Parallel()
	var logs testkit.LogBuffer
	e := newEnv(t, &logs)
	bad := e.issuer.Token(t, "inventory", "cleo", nil)
	for _, tok := range []string{e.token, bad} {
		_ = e.get(t, "/products/1?access_token="+tok, tok)
	}
	e.srv.Close()
	out := logs.String()
	for _, tok := range []string{e.token, bad} {
		for _, part := range strings.Split(tok, ".") {
			if strings.Contains(out, part) {
				t.Fatalf("token material in logs:\n%s", out)
			}
		}
	}
	if n := strings.Count(out, `"msg":"request"`); n != 2 {
		t.Fatalf("%d access lines, want 2:\n%s", n, out)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, `"request_id":"`) {
			t.Errorf("line without request_id: %s", line)
		}
	}
}
