package main

import (
	"net/http"
	"testing"

	"github.com/gatewarden/gatewarden/services/internal/svctest"
)

// TestRun starts the real binary's logic with its default audience, checks
// role and audience enforcement end to end and stops it as SIGTERM does.
func TestRun(t *testing.T) {
	t.Parallel()
	iss := svctest.NewIssuer(t, "https://idp.test")
	srv := svctest.Start(t, run, nil, map[string]string{"JWT_ISSUERS": iss.Spec()})
	manager := iss.Token(t, "inventory", "max", []string{svctest.RoleBranchManager}, "1")
	for path, want := range map[string]int{
		"/healthz":             http.StatusOK,
		"/branches/1/products": http.StatusOK,
		"/branches/2/products": http.StatusForbidden,
	} {
		if resp := svctest.Get(t, http.DefaultClient, srv.URL+path, manager); resp.Status != want {
			t.Errorf("GET %s as manager: %d, want %d", path, resp.Status, want)
		}
	}
	catalogAdmin := iss.Token(t, "catalog", "ada", []string{svctest.RoleAdmin})
	if resp := svctest.Get(t, http.DefaultClient, srv.URL+"/branches", catalogAdmin); resp.Status != http.StatusUnauthorized {
		t.Errorf("catalog token at inventory: %d, want 401", resp.Status)
	}
	if code := srv.Stop(); code != 0 {
		t.Fatalf("exit code %d after cancel; stderr:\n%s", code, srv.Stderr.String())
	}
}
