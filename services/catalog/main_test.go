package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/internal/svctest"
)

// TestRun starts the real binary's logic, serves a token-protected request
// and stops it the way SIGTERM does.
func TestRun(t *testing.T) {
	t.Parallel()
	iss := svctest.NewIssuer(t, "https://idp.test")
	srv := svctest.Start(t, run, []string{"--issuer", iss.Spec()}, map[string]string{"JWT_AUDIENCE": "catalog"})
	tests := []struct {
		name, path, token string
		status            int
	}{
		{name: "readyz", path: "/readyz", status: http.StatusOK},
		{name: "products without token", path: "/products", status: http.StatusUnauthorized},
		{name: "products", path: "/products?limit=2", token: iss.Token(t, "catalog", "cleo", nil), status: http.StatusOK},
		{name: "inventory token", path: "/products/1", token: iss.Token(t, "inventory", "cleo", nil), status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		if resp := svctest.Get(t, http.DefaultClient, srv.URL+tt.path, tt.token); resp.Status != tt.status {
			t.Errorf("%s: status %d, want %d; body %s", tt.name, resp.Status, tt.status, resp.Body)
		}
	}
	if code := srv.Stop(); code != 0 {
		t.Fatalf("exit code %d after cancel; stderr:\n%s", code, srv.Stderr.String())
	}
}

// TestRunOnPostgres starts the binary's logic against a real PostgreSQL
// twice: the first run migrates and seeds, an admin changes a product, and
// the second run (a restart, or another replica) migrates nothing and
// serves the change. A database that cannot be reached is a start failure.
func TestRunOnPostgres(t *testing.T) {
	t.Parallel()
	pg := svctest.StartPostgres(t)
	url := pg.NewDatabase(t)
	iss := svctest.NewIssuer(t, "https://idp.test")
	args := []string{"--issuer", iss.Spec(), "--database", url}
	env := map[string]string{"JWT_AUDIENCE": "catalog"}
	admin := iss.Token(t, "catalog", "ada", []string{"admin"})

	first := svctest.Start(t, run, args, env)
	if r := svctest.Get(t, http.DefaultClient, first.URL+"/readyz", ""); r.Status != http.StatusOK {
		t.Fatalf("readyz: %d", r.Status)
	}
	r := svctest.Do(t, http.DefaultClient, http.MethodPut, first.URL+"/products/3", admin,
		`{"name":"Decaf Blend 500g","price_cents":1599,"currency":"EUR","category":"coffee","version":1}`)
	if r.Status != http.StatusOK {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	if code := first.Stop(); code != 0 {
		t.Fatalf("first run exit %d:\n%s", code, first.Stderr.String())
	}
	if !strings.Contains(first.Stderr.String(), `"applied":2`) || strings.Contains(first.Stderr.String(), "xxxxx") {
		t.Errorf("first run should apply 2 migrations:\n%s", first.Stderr.String())
	}

	second := svctest.Start(t, run, args, env)
	r = svctest.Get(t, http.DefaultClient, second.URL+"/products/3", admin)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"name":"Decaf Blend 500g"`) || !strings.Contains(string(r.Body), `"version":2`) {
		t.Fatalf("after restart: %d %s", r.Status, r.Body)
	}
	if code := second.Stop(); code != 0 || !strings.Contains(second.Stderr.String(), `"applied":0`) {
		t.Fatalf("second run exit %d, want 0 with nothing applied:\n%s", code, second.Stderr.String())
	}

	// The database goes away: readiness says so, the service keeps running.
	third := svctest.Start(t, run, args, env)
	pg.Stop(t)
	if r := svctest.Get(t, http.DefaultClient, third.URL+"/readyz", ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database gone: %d, want 503", r.Status)
	}
	if r := svctest.Get(t, http.DefaultClient, third.URL+"/products", admin); r.Status != http.StatusInternalServerError ||
		!strings.Contains(string(r.Body), `"error":"internal_error"`) {
		t.Errorf("list with the database gone: %d %s, want a 500 JSON without details", r.Status, r.Body)
	}
	if code := third.Stop(); code != 0 {
		t.Errorf("exit %d after the outage", code)
	}

	var stderr testkit.LogBuffer
	code := run(context.Background(), svcmain.Process{
		Args:      []string{"--listen", "127.0.0.1:0", "--issuer", iss.Spec(), "--database", "postgres://nobody:pw@127.0.0.1:1/none?connect_timeout=2"},
		LookupEnv: svctest.MapEnv(env), Stdout: io.Discard, Stderr: &stderr,
	})
	if code != svcmain.ExitFailure || !strings.Contains(stderr.String(), "database: connect") || strings.Contains(stderr.String(), ":pw@") {
		t.Fatalf("unreachable database: exit %d, want %d with a redacted connect error:\n%s", code, svcmain.ExitFailure, stderr.String())
	}
}

// TestCheckConfig: --check-config prints the effective configuration,
// where each value came from, and the database URL without its password.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), svcmain.Process{
		Args:      []string{"--check-config", "--issuer", "iss=https://idp.test,jwks=https://idp.test/jwks,algs=RS256", "--leeway=5s"},
		LookupEnv: svctest.MapEnv(map[string]string{"DATABASE_URL": "postgres://cat:db-s3cret@db:5432/catalog", "LISTEN_ADDR": ""}),
		Stdout:    &stdout, Stderr: &stderr,
	})
	want := `config ok
listen: :8080  # default
audience: catalog  # default
issuer: https://idp.test; aud: catalog (default); keys: jwks https://idp.test/jwks; algs: RS256  # flag --issuer
leeway: 5s  # flag --leeway
revocation-feed:
revocation-poll-interval: 1s  # default
revocation-max-stale: 5s  # default
log-level: info  # default
shutdown-timeout: 15s  # default
database: postgres://cat:xxxxx@db:5432/catalog (postgres)  # env DATABASE_URL
`
	if d := cmp.Diff(want, stdout.String()); code != svcmain.ExitOK || d != "" {
		t.Fatalf("exit %d, stdout (-want +got):\n%s\nstderr: %s", code, d, stderr.String())
	}
}
