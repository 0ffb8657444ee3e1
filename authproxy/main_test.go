package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkConfigOutput is what --check-config prints for the valid case: every
// option with its source, secrets redacted.
const checkConfigOutput = `config ok
listen: :4180  # default
public-url: http://localhost:8000  # flag --public-url
fusionauth-url: http://localhost:9011  # flag --fusionauth-url
oidc-issuer:
client-id: app  # flag --client-id
client-secret: [REDACTED]  # env AUTHPROXY_CLIENT_SECRET
client-secret-file:
oidc-scopes: openid  # default
oidc-scopes: offline_access  # default
oidc-roles-claim: roles  # default
oidc-access-token-format: jwt  # default
redis-addrs: 127.0.0.1:6379  # flag --redis-addrs
redis-master-name:
redis-username:
redis-password:
redis-password-file:
redis-db: 0  # default
redis-sentinel-username:
redis-sentinel-password:
redis-sentinel-password-file:
redis-tls: false  # default
cookie-name: gw_session  # default
cookie-secret: [REDACTED]  # env AUTHPROXY_COOKIE_SECRET
cookie-secret-file:
signing-alg: ES256  # default
signing-key-files:
dev-mode: true  # flag --dev-mode
hs256-secret-file:
token-ttl: 1m0s  # default
revocation-retention: 1h0m0s  # default
rules-file: rules.example.yaml  # flag --rules-file
rules-reload: true  # default
rules-reload-interval: 2s  # default
trusted-proxies: 127.0.0.1/32  # default
trusted-proxies: ::1/128  # default
allowed-redirect-hosts:
session-lifetime: 12h0m0s  # default
session-idle-timeout: 1h0m0s  # default
refresh-window: 2m0s  # default
session-cache-ttl: 1s  # default
session-cache-entries: 10000  # default
token-cache-entries: 10000  # default
webhook-enabled: false  # default
webhook-hmac-key-file:
webhook-tenant-id:
webhook-listen:
backchannel-logout-enabled: false  # default
idp-logout-api: true  # default
pass-user-headers: false  # default
log-level: info  # default
decision-log-rate: 100  # default
shutdown-timeout: 15s  # default
`

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	valid := []string{
		"--public-url=http://localhost:8000", "--fusionauth-url=http://localhost:9011",
		"--client-id=app", "--redis-addrs=127.0.0.1:6379", "--dev-mode",
		"--rules-file=rules.example.yaml", "--check-config",
	}
	env := map[string]string{
		"AUTHPROXY_CLIENT_SECRET": "s3cret",
		"AUTHPROXY_COOKIE_SECRET": "0123456789abcdef0123456789abcdef",
	}
	// The rules file is checked offline too, every problem named.
	badRules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(badRules, []byte("rules:\n  - {name: a, match: {path: x}, access: nobody, upstream: u}\n  - {name: a, match: {path: /b}, access: public}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string
		wantStderr []string
	}{
		{name: "valid", args: valid, env: env, wantCode: 0, wantStdout: checkConfigOutput},
		{
			name: "every problem at once", args: []string{"--check-config", "--public-url=ftp://x", "--token-ttl=0s"},
			wantCode:   2,
			wantStderr: []string{"public-url", "fusionauth-url: required", "client-id: required", "client-secret: required", "cookie-secret", "rules-file: required", "token-ttl"},
		},
		{
			name: "invalid rules file", args: append(slices.Clone(valid), "--rules-file="+badRules), env: env,
			wantCode:   2,
			wantStderr: []string{"rules-file", `rule 0 ("a"): match.path`, `rule 0 ("a"): unknown access "nobody"`, `rule 1 ("a"): duplicate name`, `rule 1 ("a"): upstream is required`},
		},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStderr: []string{"-check-config", "AUTHPROXY_PUBLIC_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d stdout %q stderr %s", code, stdout.String(), stderr.String())
			}
			if d := cmp.Diff(tt.wantStdout, stdout.String()); d != "" {
				t.Errorf("stdout (-want +got):\n%s", d)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String()+stdout.String(), "s3cret") || strings.Contains(stdout.String(), "0123456789abcdef") {
				t.Errorf("secret printed")
			}
		})
	}
}

// TestSessionsCommand: `authproxy sessions ...` is the operator command,
// not the server: it demands none of the server's settings.
func TestSessionsCommand(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run([]string{"sessions", "list"}, func(string) string { return "" }, &stdout, &stderr)
	if want := "authproxy sessions list: --user is required\n"; code != 2 || !strings.HasPrefix(stderr.String(), want) || stdout.Len() != 0 {
		t.Fatalf("exit %d stdout %q stderr %q; want 2 and %q first", code, stdout.String(), stderr.String(), want)
	}
}
