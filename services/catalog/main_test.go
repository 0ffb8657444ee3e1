package main

import (
	"net/http"
	"testing"

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
