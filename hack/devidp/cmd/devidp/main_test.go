package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/shared/options"
)

func TestDefaultIssuer(t *testing.T) {
	t.Parallel()
	tests := []struct{ listen, want string }{
		{listen: "127.0.0.1:9011", want: "http://127.0.0.1:9011"},
		{listen: ":9011", want: "http://localhost:9011"},
		{listen: "0.0.0.0:9011", want: "http://localhost:9011"},
		{listen: "[::]:9011", want: "http://localhost:9011"},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			t.Parallel()
			if got := defaultIssuer(tt.listen); got != tt.want {
				t.Fatalf("defaultIssuer(%q) = %q, want %q", tt.listen, got, tt.want)
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "not defined"},
		{name: "bad redirect URI", args: []string{"--redirect-uris", "ftp://x/cb"}, wantErr: "scheme must be http or https"},
		{name: "bad redirect URI from env", env: map[string]string{"DEVIDP_REDIRECT_URIS": "ftp://x/cb"}, wantErr: "scheme must be http or https"},
		{name: "missing users file", args: []string{"--users", "/nonexistent/users.yaml"}, wantErr: "users (flag --users): devidp: users: open /nonexistent/users.yaml"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: "log-level"},
		{name: "bad duration from env", env: map[string]string{"DEVIDP_ACCESS_TOKEN_TTL": "long"}, wantErr: `access-token-ttl (env DEVIDP_ACCESS_TOKEN_TTL): invalid value "long"`},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if code != options.ExitConfig || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Fatalf("run(%q) = %d, stderr %s; want %d and %q", tt.args, code, stderr.String(), options.ExitConfig, tt.wantErr)
			}
		})
	}
}

// TestCheckConfig: --check-config prints the effective configuration with
// where each value came from, the client secret redacted, and exits 0.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DEVIDP_CLIENT_SECRET": "not-the-default-SECRET", "DEVIDP_ROTATE_REFRESH_TOKENS": "true", "DEVIDP_LISTEN": ""}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--check-config", "--listen=:9999", "--logout-uris=http://gw.test/"}, func(k string) string { return env[k] }, &stdout, &stderr)
	want := `config ok
listen: :9999  # flag --listen
issuer: http://localhost:9999  # from --listen
users:
client-id: e9fdb985-9173-4e01-9d73-ac2d60d1dc8e  # default
client-secret: [REDACTED]  # env DEVIDP_CLIENT_SECRET
redirect-uris: http://localhost:8000/oauth2/callback  # default
redirect-uris: http://localhost:4180/oauth2/callback  # default
redirect-uris: http://127.0.0.1:4180/oauth2/callback  # default
logout-uris: http://gw.test/  # flag --logout-uris
access-token-ttl: 1h0m0s  # default
rotate-refresh-tokens: true  # env DEVIDP_ROTATE_REFRESH_TOKENS
webhook-url:
api-key:
log-level: info  # default
`
	if d := cmp.Diff(want, stdout.String()); code != options.ExitOK || d != "" {
		t.Fatalf("exit %d, stdout (-want +got):\n%s\nstderr: %s", code, d, stderr.String())
	}
}
