package config

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/shared/options"
)

// TestLoadRedis: a Redis-only command reads the Redis settings from the
// server's flags, variables and file, demands nothing else, and checks and
// shows only them.
func TestLoadRedis(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := writeFile(t, dir, "pw", "redispw\n")
	// The server's own file: every key is accepted, only the Redis ones read.
	serverFile := writeFile(t, dir, "authproxy.yaml", "public_url: http://localhost:8000\nclient_id: app\nlisten: \":1111\"\nredis_addrs: [r1:6379]\nredis_db: 3\n")
	type redisFields struct {
		Addrs    []string
		DB       int
		Password string
		Listen   string // a server setting: never loaded
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    redisFields
		user    string
		summary string
		problem string
	}{
		{
			name: "the server's file and variables; nothing else required",
			args: []string{"--user=alice"},
			env:  map[string]string{"AUTHPROXY_CONFIG": serverFile, "AUTHPROXY_REDIS_PASSWORD_FILE": pw, "AUTHPROXY_LISTEN": ":2222"},
			want: redisFields{Addrs: []string{"r1:6379"}, DB: 3, Password: "redispw"}, user: "alice",
			summary: "redis-addrs: r1:6379  # file " + serverFile + "\n" +
				"redis-master-name:\nredis-username:\n" +
				"redis-password: [REDACTED]\n" +
				"redis-password-file: " + pw + "  # env AUTHPROXY_REDIS_PASSWORD_FILE\n" +
				"redis-db: 3  # file " + serverFile + "\n" +
				"redis-sentinel-username:\nredis-sentinel-password:\nredis-sentinel-password-file:\n" +
				"redis-tls: false  # default\n",
		},
		{
			name: "flags over variables",
			args: []string{"--redis-addrs=a:1,b:2", "--redis-db=1"},
			env:  map[string]string{"AUTHPROXY_REDIS_ADDRS": "env:1"},
			want: redisFields{Addrs: []string{"a:1", "b:2"}, DB: 1},
		},
		{
			name:    "no address",
			problem: "invalid configuration:\n  redis-addrs: required (host:port, comma separated)",
		},
		{
			name: "the Redis checks: password and its file, Sentinel password without Sentinel, a bad address",
			args: []string{"--redis-addrs=nohost", "--redis-password=x", "--redis-password-file=" + pw, "--redis-sentinel-password=y"},
			want: redisFields{Addrs: []string{"nohost"}, Password: "x"},
			problem: "invalid configuration:\n" +
				"  redis-password and redis-password-file are both set; give one\n" +
				"  redis-addrs: \"nohost\": want host:port\n" +
				"  redis-sentinel-password: only with redis-master-name (Sentinel)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var user string
			cmd := options.Set{Program: "authproxy test", Options: []options.Option{{Name: "user", FlagOnly: true, Value: options.String(&user)}}}
			c, err := LoadRedis(cmd, tt.args, env(tt.env), &bytes.Buffer{})
			if got := errString(err); got != tt.problem {
				t.Fatalf("problems %q; want %q", got, tt.problem)
			}
			got := redisFields{Addrs: c.RedisAddrs, DB: c.RedisDB, Password: c.RedisPassword.Reveal(), Listen: c.Listen}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("values (-want +got):\n%s", d)
			}
			if user != tt.user {
				t.Errorf("user = %q; want %q", user, tt.user)
			}
			if tt.summary != "" {
				if d := cmp.Diff(tt.summary, c.Summary()); d != "" {
					t.Errorf("Summary (-want +got):\n%s", d)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
