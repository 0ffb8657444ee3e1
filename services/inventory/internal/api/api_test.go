package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/internal/database"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/internal/svctest"
	"github.com/gatewarden/gatewarden/services/inventory/internal/stock"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

const audience = "inventory"

type env struct {
	srv    *httptest.Server
	issuer *svctest.Issuer
	store  *stock.Store
}

// newEnv serves the API over a fresh embedded database (the PostgreSQL
// runs are in TestWritesOnEachBackend and the stock package).
func newEnv(t *testing.T, logs io.Writer) *env {
	t.Helper()
	return newEnvAt(t, logs, database.Memory)
}

func newEnvAt(t *testing.T, logs io.Writer, url string) *env {
	t.Helper()
	store, err := stock.New(svctest.OpenDB(t, url, stock.Schema()).DB)
	if err != nil {
		t.Fatal(err)
	}
	srv, iss := svctest.Serve(t, audience, logs, func(d svcmain.Deps) (http.Handler, error) { return NewRouter(d, store) })
	return &env{srv: srv, issuer: iss, store: store}
}

// tokens returns one token per kind of caller.
func (e *env) tokens(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"none":              "",
		"admin":             e.issuer.Token(t, audience, "ada", []string{RoleAdmin}),
		"manager":           e.issuer.Token(t, audience, "max", []string{RoleBranchManager}, "1"),
		"manager 2,3,99":    e.issuer.Token(t, audience, "mia", []string{RoleBranchManager}, "2", "3", "99"),
		"manager 01":        e.issuer.Token(t, audience, "mo", []string{RoleBranchManager}, "01", " 1", "1.0"),
		"manager no claim":  e.issuer.Token(t, audience, "mel", []string{RoleBranchManager}),
		"customer":          e.issuer.Token(t, audience, "cleo", []string{"user"}, "1"),
		"no roles":          e.issuer.Token(t, audience, "olli", nil),
		"admin for catalog": e.issuer.Token(t, "catalog", "ada", []string{RoleAdmin}),
		"admin other iss":   svctest.NewIssuer(t, "https://evil.test").Token(t, audience, "ada", []string{RoleAdmin}),
		"manager numeric": e.issuer.Mint(t, jwtauth.Claims{Subject: "nia", Audience: jwt.ClaimStrings{audience}, Roles: []string{RoleBranchManager}},
			map[string]any{ClaimBranches: []any{1}}),
		"admin bad claim": e.issuer.Mint(t, jwtauth.Claims{Subject: "ada", Audience: jwt.ClaimStrings{audience}, Roles: []string{RoleAdmin}},
			map[string]any{ClaimBranches: map[string]any{"1": true}}),
	}
}

func TestBranchProducts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.tokens(t)
	tests := []struct {
		name   string
		caller string
		id     string
		status int
		code   string
	}{
		{name: "no token", caller: "none", id: "1", status: http.StatusUnauthorized, code: "unauthenticated"},
		{name: "admin token minted for catalog", caller: "admin for catalog", id: "1", status: http.StatusUnauthorized, code: "invalid_token"},
		{name: "admin token from untrusted issuer", caller: "admin other iss", id: "1", status: http.StatusUnauthorized, code: "invalid_token"},
		{name: "admin branch 1", caller: "admin", id: "1", status: http.StatusOK},
		{name: "admin branch 2", caller: "admin", id: "2", status: http.StatusOK},
		{name: "admin branch 4", caller: "admin", id: "4", status: http.StatusOK},
		{name: "admin unknown branch", caller: "admin", id: "99", status: http.StatusNotFound, code: CodeNotFound},
		{name: "admin malformed id", caller: "admin", id: "abc", status: http.StatusBadRequest, code: CodeBadID},
		{name: "admin non-canonical id", caller: "admin", id: "01", status: http.StatusBadRequest, code: CodeBadID},
		{name: "manager own branch", caller: "manager", id: "1", status: http.StatusOK},
		{name: "manager other branch", caller: "manager", id: "2", status: http.StatusForbidden, code: CodeForbidden},
		{name: "manager unknown branch is 403 not 404", caller: "manager", id: "99", status: http.StatusForbidden, code: CodeForbidden},
		{name: "manager malformed id", caller: "manager", id: "x", status: http.StatusBadRequest, code: CodeBadID},
		{name: "manager of 2,3,99 branch 3", caller: "manager 2,3,99", id: "3", status: http.StatusOK},
		{name: "manager of 2,3,99 branch 1", caller: "manager 2,3,99", id: "1", status: http.StatusForbidden, code: CodeForbidden},
		{name: "manager claiming unknown branch", caller: "manager 2,3,99", id: "99", status: http.StatusNotFound, code: CodeNotFound},
		{name: "non-canonical claim entries grant nothing", caller: "manager 01", id: "1", status: http.StatusForbidden, code: CodeForbidden},
		{name: "manager without branches claim", caller: "manager no claim", id: "1", status: http.StatusForbidden, code: CodeForbidden},
		{name: "numeric claim entries", caller: "manager numeric", id: "1", status: http.StatusOK},
		{name: "branches claim that is no list of ids", caller: "admin bad claim", id: "1", status: http.StatusUnauthorized, code: "invalid_token"},
		{name: "customer with branches claim", caller: "customer", id: "1", status: http.StatusForbidden, code: CodeForbidden},
		{name: "customer unknown branch", caller: "customer", id: "99", status: http.StatusForbidden, code: CodeForbidden},
		{name: "customer malformed id: role first", caller: "customer", id: "abc", status: http.StatusForbidden, code: CodeForbidden},
		{name: "no roles", caller: "no roles", id: "1", status: http.StatusForbidden, code: CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := svctest.Get(t, e.srv.Client(), e.srv.URL+"/branches/"+tt.id+"/products", tok[tt.caller])
			if resp.Status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.Status, tt.status, resp.Body)
			}
			if tt.status != http.StatusOK {
				var body httpkit.ErrorResponse
				resp.JSON(t, &body)
				if body.Error != tt.code {
					t.Errorf("error = %q, want %q", body.Error, tt.code)
				}
				if tt.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			var got BranchStock
			resp.JSON(t, &got)
			id, _ := httpkit.ParseID(tt.id)
			wantBranch, wantItems, _ := e.store.Stock(context.Background(), id)
			if d := cmp.Diff(BranchStock{Branch: wantBranch, Items: wantItems}, got); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
}

func TestForbiddenAnswersDoNotRevealExistence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.tokens(t)["manager"]
	existing := svctest.Get(t, e.srv.Client(), e.srv.URL+"/branches/2/products", tok)
	missing := svctest.Get(t, e.srv.Client(), e.srv.URL+"/branches/99/products", tok)
	if existing.Status != missing.Status || string(existing.Body) != string(missing.Body) {
		t.Fatalf("existing branch: %d %s; missing branch: %d %s; want identical", existing.Status, existing.Body, missing.Status, missing.Body)
	}
}

func TestListBranches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.tokens(t)
	tests := []struct {
		caller string
		status int
		ids    []int64
	}{
		{caller: "admin", status: http.StatusOK, ids: []int64{1, 2, 3, 4}},
		{caller: "manager", status: http.StatusOK, ids: []int64{1}},
		{caller: "manager 2,3,99", status: http.StatusOK, ids: []int64{2, 3}},
		{caller: "manager 01", status: http.StatusOK, ids: []int64{}},
		{caller: "manager no claim", status: http.StatusOK, ids: []int64{}},
		{caller: "customer", status: http.StatusForbidden},
		{caller: "no roles", status: http.StatusForbidden},
		{caller: "none", status: http.StatusUnauthorized},
		{caller: "admin for catalog", status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.caller, func(t *testing.T) {
			t.Parallel()
			resp := svctest.Get(t, e.srv.Client(), e.srv.URL+"/branches", tok[tt.caller])
			if resp.Status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.Status, tt.status, resp.Body)
			}
			if tt.status != http.StatusOK {
				return
			}
			var got BranchList
			resp.JSON(t, &got)
			ids := []int64{}
			for _, b := range got.Items {
				ids = append(ids, b.ID)
				if b.Name == "" {
					t.Errorf("branch %d without name", b.ID)
				}
			}
			if d := cmp.Diff(tt.ids, ids); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if strings.Contains(string(resp.Body), "stock") || strings.Contains(string(resp.Body), "quantity") {
				t.Errorf("branch list leaks stock: %s", resp.Body)
			}
		})
	}
}

func TestOpenRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			if resp := svctest.Get(t, e.srv.Client(), e.srv.URL+path, ""); resp.Status != http.StatusOK {
				t.Errorf("GET %s without token = %d %s", path, resp.Status, resp.Body)
			}
		})
	}
	t.Run("unknown route JSON 404", func(t *testing.T) {
		t.Parallel()
		resp := svctest.Get(t, e.srv.Client(), e.srv.URL+"/branches/1/secrets", "")
		var body httpkit.ErrorResponse
		resp.JSON(t, &body)
		if resp.Status != http.StatusNotFound || body.Error != httpkit.CodeNotFound {
			t.Errorf("got %d %s", resp.Status, resp.Body)
		}
	})
}

func TestDecisionLogs(t *testing.T) {
	t.Parallel()
	var logs testkit.LogBuffer
	e := newEnv(t, &logs)
	tok := e.tokens(t)
	for _, caller := range []string{"manager", "customer", "admin for catalog"} {
		_ = svctest.Get(t, e.srv.Client(), e.srv.URL+"/branches/2/products", tok[caller])
	}
	e.srv.Close()
	out := logs.String()
	for _, want := range []string{
		`"subject":"max","branch_id":2,"outcome":"deny","reason":"branch"`,
		`"subject":"cleo","branch_id":0,"outcome":"deny","reason":"role"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	for caller, token := range tok {
		if token == "" {
			continue
		}
		if strings.Contains(out, strings.Split(token, ".")[2]) {
			t.Errorf("%s token signature in logs", caller)
		}
	}
}
