package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testSecret = "0123456789abcdef0123456789abcdef" // 32 bytes

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func rulesFile(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../rules.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// minimalArgs is a valid configuration on the command line.
func minimalArgs(t *testing.T) []string {
	return []string{
		"--public-url=http://localhost:8000",
		"--fusionauth-url=http://localhost:9011",
		"--client-id=app",
		"--client-secret=s3cret",
		"--redis-addrs=127.0.0.1:6379",
		"--cookie-secret=" + testSecret,
		"--dev-mode",
		"--rules-file=" + rulesFile(t),
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(minimalArgs(t), env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Rules == nil {
		t.Fatal("rules not loaded")
	}
	got := map[string]any{
		"listen":        c.Listen,
		"cookie":        c.SessionCookieName(),
		"alg":           c.SigningAlg,
		"ttl":           c.TokenTTL,
		"lifetime":      c.SessionLifetime,
		"idle":          c.SessionIdleTimeout,
		"refreshWindow": c.RefreshWindow,
		"cacheTTL":      c.SessionCacheTTL,
		"shutdown":      c.ShutdownTimeout,
		"level":         c.LogLevel,
		"trusted":       fmt.Sprint(c.TrustedProxies),
		"passHeaders":   c.PassUserHeaders,
		"rulesReload":   c.RulesReload,
		"reloadEvery":   c.RulesReloadInterval,
	}
	want := map[string]any{
		"listen":        ":4180",
		"cookie":        "gw_session",
		"alg":           "ES256",
		"ttl":           60 * time.Second,
		"lifetime":      12 * time.Hour,
		"idle":          time.Hour,
		"refreshWindow": 2 * time.Minute,
		"cacheTTL":      time.Second,
		"shutdown":      15 * time.Second,
		"level":         slog.LevelInfo,
		"trusted":       fmt.Sprint([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}),
		"passHeaders":   false,
		"rulesReload":   true,
		"reloadEvery":   2 * time.Second,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
}

func TestLayersFlagsOverEnvOverFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "authproxy.yaml", `
listen: ":1111"
token_ttl: 10s
refresh_window: 30s
session_lifetime: 2h
trusted_proxies: [10.0.0.0/8, 192.168.1.1]
allowed_redirect_hosts: "a.example, b.example"
pass_user_headers: true
redis_db: 3
`)
	e := env(map[string]string{
		"AUTHPROXY_CONFIG":            file,
		"AUTHPROXY_LISTEN":            ":2222",
		"AUTHPROXY_TOKEN_TTL":         "20s",
		"AUTHPROXY_CLIENT_SECRET":     "from-env",
		"AUTHPROXY_SIGNING_ALG":       "RS256",
		"AUTHPROXY_SESSION_CACHE_TTL": "0s",
	})
	args := append(minimalArgs(t), "--listen=:3333")
	// client secret: drop the flag so env supplies it.
	args = filter(args, "--client-secret=")
	c, err := Load(args, e, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := []string{c.Listen, c.TokenTTL.String(), c.RefreshWindow.String(), c.SessionLifetime.String(),
		fmt.Sprint(c.TrustedProxies), strings.Join(c.AllowedRedirectHosts, "|"), fmt.Sprint(c.PassUserHeaders),
		fmt.Sprint(c.RedisDB), c.ClientSecret.Reveal(), c.SigningAlg, c.SessionCacheTTL.String()}
	want := []string{":3333", "20s", "30s", "2h0m0s", "[10.0.0.0/8 192.168.1.1/32]", "a.example|b.example", "true",
		"3", "from-env", "RS256", "0s"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("layers (-want +got):\n%s", d)
	}
}

func filter(args []string, prefix string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, prefix) {
			out = append(out, a)
		}
	}
	return out
}

func TestSecretFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := filter(filter(minimalArgs(t), "--client-secret="), "--cookie-secret=")
	args = append(args,
		"--client-secret-file="+writeFile(t, dir, "cs", "file-secret\n"),
		"--cookie-secret-file="+writeFile(t, dir, "ck", testSecret+"\n"),
		"--redis-password-file="+writeFile(t, dir, "rp", "redispw"),
	)
	c, err := Load(args, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.ClientSecret.Reveal() != "file-secret" || c.CookieSecret.Reveal() != testSecret || c.RedisPassword.Reveal() != "redispw" {
		t.Errorf("secrets not read from files")
	}
}

func TestHTTPSCookieName(t *testing.T) {
	t.Parallel()
	c := Config{PublicURL: "https://gw.example", CookieName: "gw_session"}
	if got := c.SessionCookieName(); got != "__Host-gw_session" {
		t.Errorf("https cookie name = %q", got)
	}
	c.PublicURL = "http://localhost"
	if got := c.SessionCookieName(); got != "gw_session" {
		t.Errorf("http cookie name = %q", got)
	}
}

// TestEveryProblemAtOnce feeds a configuration broken in many ways and
// expects one error that names each problem.
func TestEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badRules := writeFile(t, dir, "rules.yaml", "rules: []\n")
	args := []string{
		"--public-url=localhost:8000",
		"--client-secret=x",
		"--cookie-secret=short",
		"--signing-alg=none",
		"--rules-file=" + badRules,
		"--trusted-proxies=10.0.0.0/8,not-a-cidr",
		"--token-ttl=-1s",
		"--session-lifetime=1h",
		"--session-idle-timeout=2h",
		"--refresh-window=soon",
	}
	_, err := Load(args, env(nil), &bytes.Buffer{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"public-url", "fusionauth-url: required", "client-id: required", "redis-addrs: required",
		"cookie-secret: must be at least 32", "signing-alg", "rules-file", "not-a-cidr",
		"token-ttl: must be positive", "session-idle-timeout (2h0m0s) must not exceed", "refresh-window (flag --refresh-window)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "short") {
		t.Errorf("error leaks the cookie secret value:\n%s", msg)
	}
}

func TestValidateCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" = valid
	}{
		{name: "valid", args: nil},
		{name: "public url not http", args: []string{"--public-url=ftp://x"}, wantErr: "public-url"},
		{name: "public url relative", args: []string{"--public-url=/x"}, wantErr: "public-url"},
		{name: "fusionauth url with query", args: []string{"--fusionauth-url=http://x/?a=b"}, wantErr: "fusionauth-url"},
		{name: "redis addr without port", args: []string{"--redis-addrs=redis"}, wantErr: "redis-addrs"},
		{name: "no signing keys without dev mode", args: []string{"--dev-mode=false"}, wantErr: "signing-key-files: required"},
		{name: "hs256 without secret", args: []string{"--dev-mode=false", "--signing-alg=HS256"}, wantErr: "hs256-secret-file"},
		{name: "missing key file", args: []string{"--signing-key-files=/nonexistent/key.pem"}, wantErr: "signing-key-files"},
		{name: "bad redirect host", args: []string{"--allowed-redirect-hosts=evil.example/x"}, wantErr: "allowed-redirect-hosts"},
		{name: "bad bool", args: []string{"--pass-user-headers=maybe"}, wantErr: "pass-user-headers"},
		{name: "bad level", args: []string{"--log-level=loud"}, wantErr: "log-level"},
		{name: "negative cache ttl", args: []string{"--session-cache-ttl=-1s"}, wantErr: "session-cache-ttl"},
		{name: "zero session cache entries", args: []string{"--session-cache-entries=0"}, wantErr: "session-cache-entries: must be at least 1"},
		{name: "zero token cache entries", args: []string{"--token-cache-entries=0"}, wantErr: "token-cache-entries: must be at least 1"},
		{name: "negative decision log rate", args: []string{"--decision-log-rate=-1"}, wantErr: "decision-log-rate"},
		{name: "bad cookie name", args: []string{"--cookie-name=a;b"}, wantErr: "cookie-name"},
		{name: "both secret and file", args: []string{"--client-secret-file=/dev/null"}, wantErr: "client-secret and client-secret-file"},
		{name: "positional argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "public url is the IdP", args: []string{"--public-url=http://LOCALHOST:9011/"}, wantErr: "public-url: must not be the identity provider"},
		{name: "public url is the pinned issuer", args: []string{"--oidc-issuer=https://auth.example", "--public-url=https://auth.example"}, wantErr: "public-url: must not be the identity provider"},
		{name: "__Host- cookie on http", args: []string{"--cookie-name=__Host-gw"}, wantErr: "cookie-name: __Host- and __Secure- cookies need an https public-url"},
		{name: "__Secure- cookie on http", args: []string{"--cookie-name=__Secure-gw"}, wantErr: "cookie-name: __Host- and __Secure- cookies need an https public-url"},
		{name: "__Host- cookie on https", args: []string{"--cookie-name=__Host-gw", "--public-url=https://gw.example"}},
		{name: "public url beside the IdP", args: []string{"--public-url=http://localhost:9011/gateway"}},
		{name: "sentinel username without master name", args: []string{"--redis-sentinel-username=sen"}, wantErr: "redis-sentinel-username: only with redis-master-name"},
		{name: "sentinel password without master name", args: []string{"--redis-sentinel-password=pw"}, wantErr: "redis-sentinel-password: only with redis-master-name"},
		{name: "sentinel password and file", args: []string{"--redis-master-name=mymaster", "--redis-sentinel-password=pw", "--redis-sentinel-password-file=/dev/null"}, wantErr: "redis-sentinel-password and redis-sentinel-password-file"},
		{name: "reload interval zero", args: []string{"--rules-reload-interval=0s"}, wantErr: "rules-reload-interval: must be positive"},
		{name: "reload off, interval unused", args: []string{"--rules-reload=false", "--rules-reload-interval=0s"}},
		{name: "sentinel auth with master name", args: []string{"--redis-master-name=mymaster", "--redis-sentinel-username=sen", "--redis-sentinel-password=pw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(append(minimalArgs(t), tt.args...), env(nil), &bytes.Buffer{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want mention of %q", err, tt.wantErr)
			}
		})
	}
}

func TestFileUnknownKeyRejected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", "listen: \":1\"\ncookie_secrte: typo\nsession_lifetime: {a: b}\n")
	_, err := Load(append(minimalArgs(t), "--config="+file), env(nil), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `unknown key "cookie_secrte"`) || !strings.Contains(err.Error(), "not a mapping") {
		t.Fatalf("want unknown key and mapping errors, got %v", err)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, err := Load([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"-public-url", "AUTHPROXY_PUBLIC_URL", "-check-config", "-cookie-secret-file"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

// TestSecretsRedacted logs the whole config through slog JSON, fmt and %#v
// and checks that no secret value appears.
func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	c, err := Load(append(filter(minimalArgs(t), "--client-secret="), "--client-secret=client-SECRET-value", "--redis-password=redis-SECRET-value"), env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	fmt.Fprintf(&buf, "%v %+v %#v %s", c, *c, *c, c.CookieSecret)
	out := buf.String()
	for _, s := range []string{"client-SECRET-value", "redis-SECRET-value", testSecret} {
		if strings.Contains(out, s) {
			t.Errorf("secret %q leaked:\n%s", s, out)
		}
	}
	if !strings.Contains(out, `"client_secret":"[REDACTED]"`) || !strings.Contains(out, `"client_id":"app"`) {
		t.Errorf("log lacks redacted secret or client id:\n%s", out)
	}
}

// TestSentinelAuth: the Sentinel credentials come from flags, env or a
// file, and the password never reaches a log.
func TestSentinelAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantUser string
		wantPass string
	}{
		{name: "flags", args: []string{"--redis-master-name=mymaster", "--redis-sentinel-username=sen", "--redis-sentinel-password=sentinel-SECRET"}, wantUser: "sen", wantPass: "sentinel-SECRET"},
		{name: "env", env: map[string]string{"AUTHPROXY_REDIS_MASTER_NAME": "mymaster", "AUTHPROXY_REDIS_SENTINEL_USERNAME": "sen", "AUTHPROXY_REDIS_SENTINEL_PASSWORD": "sentinel-SECRET"}, wantUser: "sen", wantPass: "sentinel-SECRET"},
		{name: "file", args: []string{"--redis-master-name=mymaster", "--redis-sentinel-password-file=" + writeFile(t, dir, "sp", "sentinel-SECRET\n")}, wantPass: "sentinel-SECRET"},
		{name: "env file", env: map[string]string{"AUTHPROXY_REDIS_MASTER_NAME": "mymaster", "AUTHPROXY_REDIS_SENTINEL_PASSWORD_FILE": filepath.Join(dir, "sp")}, wantPass: "sentinel-SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(append(minimalArgs(t), tt.args...), env(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.RedisSentinelUsername != tt.wantUser || c.RedisSentinelPassword.Reveal() != tt.wantPass {
				t.Errorf("sentinel auth = %q/%q; want %q/%q", c.RedisSentinelUsername, c.RedisSentinelPassword.Reveal(), tt.wantUser, tt.wantPass)
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
			fmt.Fprintf(&buf, "%v %+v %#v", c, *c, *c)
			if out := buf.String(); strings.Contains(out, "sentinel-SECRET") || !strings.Contains(out, `"redis_sentinel_password":"[REDACTED]"`) {
				t.Errorf("sentinel password not redacted:\n%s", out)
			}
		})
	}
}

// TestOIDCOptions: scopes, the roles claim and the access-token format are
// configurable; a rule that forwards the access token is refused at start
// when the provider's access tokens are opaque.
func TestOIDCOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			if diff := cmp.Diff([]string{"openid", "offline_access"}, c.OIDCScopes); diff != "" || c.RolesClaim != "roles" || c.AccessTokenFormat != AccessTokenJWT {
				t.Errorf("scopes %v roles claim %q format %q", c.OIDCScopes, c.RolesClaim, c.AccessTokenFormat)
			}
		}},
		{name: "other provider", args: []string{"--oidc-scopes=openid,offline_access,email,profile", "--oidc-roles-claim=realm_access.roles"}, check: func(t *testing.T, c *Config) {
			if len(c.OIDCScopes) != 4 || c.RolesClaim != "realm_access.roles" {
				t.Errorf("scopes %v roles claim %q", c.OIDCScopes, c.RolesClaim)
			}
		}},
		{name: "opaque access tokens with a rule forwarding them", args: []string{"--oidc-access-token-format=opaque"}, wantErr: "needs a JWT access token"},
		{name: "unknown format", args: []string{"--oidc-access-token-format=paseto"}, wantErr: "is not jwt or opaque"},
		{name: "bad roles path", args: []string{"--oidc-roles-claim=realm_access..roles"}, wantErr: "oidc-roles-claim"},
		{name: "scope with a space", args: []string{"--oidc-scopes=openid email"}, wantErr: "oidc-scopes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(append(minimalArgs(t), tc.args...), env(nil), &bytes.Buffer{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tc.check(t, c)
		})
	}
}

// TestParseRules: the reload's check is the start's: a document that parses
// but that this configuration cannot serve (a rule forwarding opaque access
// tokens) is refused with every problem, a valid one is returned.
func TestParseRules(t *testing.T) {
	t.Parallel()
	const forwarding = `rules:
  - {name: a, match: {path: "/a"}, access: authenticated, upstream: x, forward: access-token}
  - {name: b, match: {path: "/b"}, access: authenticated, upstream: x, forward: access-token}
`
	tests := []struct {
		name     string
		format   string
		content  string
		wantErrs []string // none = valid
	}{
		{name: "valid", format: AccessTokenJWT, content: forwarding},
		{name: "opaque tokens forwarded", format: AccessTokenOpaque, content: forwarding, wantErrs: []string{`rule "a" forwards the access token`, `rule "b" forwards the access token`}},
		{name: "parse problems, every one", format: AccessTokenJWT, content: "rules:\n  - {name: a, match: {path: x}, access: nobody}\n", wantErrs: []string{"match.path", "unknown access"}},
		{name: "empty", format: AccessTokenJWT, wantErrs: []string{"document is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Config{AccessTokenFormat: tt.format}
			rules, err := c.ParseRules([]byte(tt.content))
			if len(tt.wantErrs) == 0 {
				if err != nil || rules.Len() != 2 {
					t.Fatalf("ParseRules = %v, %v; want the 2 rules", rules, err)
				}
				return
			}
			if err == nil || rules != nil {
				t.Fatalf("ParseRules = %v, %v; want an error", rules, err)
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}
