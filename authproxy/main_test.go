package main

import (
	"bytes"
	"strings"
	"testing"
)

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
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string
		wantStderr []string
	}{
		{name: "valid", args: valid, env: env, wantCode: 0, wantStdout: "ok\n"},
		{
			name: "every problem at once", args: []string{"--check-config", "--public-url=ftp://x", "--token-ttl=0s"},
			wantCode:   2,
			wantStderr: []string{"public-url", "fusionauth-url: required", "client-id: required", "client-secret: required", "cookie-secret", "rules-file: required", "token-ttl"},
		},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStderr: []string{"-check-config", "AUTHPROXY_PUBLIC_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if code != tt.wantCode || (tt.wantStdout != "" && stdout.String() != tt.wantStdout) {
				t.Fatalf("exit %d stdout %q stderr %s", code, stdout.String(), stderr.String())
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "s3cret") {
				t.Errorf("secret printed")
			}
		})
	}
}
