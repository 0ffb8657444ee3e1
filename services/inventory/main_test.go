package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/gatewarden/gatewarden/services/internal/svcmain"
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

// TestCheckConfig: the inventory's defaults and environment as
// --check-config shows them (issuers from JWT_ISSUERS, one a line); an
// invalid configuration prints every problem and exits 2.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"JWT_ISSUERS": "iss=https://gw.test,jwks=https://gw.test/jwks;iss=https://idp.test,jwks=https://idp.test/jwks,aud=app",
		"LOG_LEVEL":   "debug",
	}
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout, errs string
	}{
		{
			name: "valid", args: []string{"--check-config"}, code: svcmain.ExitOK,
			stdout: `config ok
listen: :8080  # default
audience: inventory  # default
issuer: https://gw.test; aud: inventory (default); keys: jwks https://gw.test/jwks; algs: implied by keys  # env JWT_ISSUERS
issuer: https://idp.test; aud: app; keys: jwks https://idp.test/jwks; algs: implied by keys  # env JWT_ISSUERS
leeway: 30s  # default
revocation-feed:
revocation-poll-interval: 1s  # default
revocation-max-stale: 5s  # default
log-level: debug  # env LOG_LEVEL
shutdown-timeout: 15s  # default
database: sqlite::memory: (sqlite)  # default
`,
		},
		{
			name: "invalid", args: []string{"--check-config", "--listen=nohost", "--shutdown-timeout=never"}, code: svcmain.ExitConfig,
			errs: `inventory: invalid configuration:
  shutdown-timeout (flag --shutdown-timeout): invalid value "never": want a duration such as 90s, 2m or 12h
  --listen "nohost": want host:port (e.g. :8080): address nohost: missing port in address
  --shutdown-timeout 0s must be positive
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), svcmain.Process{Args: tt.args, LookupEnv: svctest.MapEnv(env), Stdout: &stdout, Stderr: &stderr})
			if code != tt.code || stdout.String() != tt.stdout || stderr.String() != tt.errs {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", code, tt.code, stdout.String(), tt.stdout, stderr.String(), tt.errs)
			}
		})
	}
}
