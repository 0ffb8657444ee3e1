package config

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
)

// EnvPrefix prefixes every environment variable authproxy reads.
const EnvPrefix = "AUTHPROXY_"

// MinCookieSecret is the minimum length of the cookie secret in bytes.
const MinCookieSecret = 32

// ErrInvalid wraps every configuration problem, so callers can tell a bad
// configuration (exit 2) from other failures with errors.Is.
var ErrInvalid = errors.New("config: invalid")

// ErrHelp is returned when -h or --help was given; usage has been printed.
var ErrHelp = flag.ErrHelp

// Secret is a string that never prints: fmt, slog and JSON show "[REDACTED]"
// (or "" when unset) instead of the value.
type Secret string

const redacted = "[REDACTED]"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer so %#v does not leak either.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Reveal returns the secret value; call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// Access-token formats of the identity provider (access-token-format).
const (
	AccessTokenJWT    = "jwt"
	AccessTokenOpaque = "opaque"
)

// Config is authproxy's resolved configuration. Load fills it and validates
// it; tests may build one by hand and call Validate.
type Config struct {
	Listen        string
	PublicURL     string
	FusionAuthURL string
	OIDCIssuer    string
	ClientID      string
	ClientSecret  Secret
	// OIDCScopes are requested at login (openid is always added).
	OIDCScopes []string
	// RolesClaim is the access-token claim (dotted path) holding roles;
	// "roles" is FusionAuth's, with its applicationId check.
	RolesClaim string
	// AccessTokenFormat is AccessTokenJWT or AccessTokenOpaque.
	AccessTokenFormat string

	RedisAddrs      []string
	RedisMasterName string
	RedisUsername   string
	RedisPassword   Secret
	RedisDB         int
	RedisTLS        bool
	// Sentinel's own credentials (requirepass / ACL on the sentinels), as
	// distinct from the data nodes' RedisUsername/RedisPassword.
	RedisSentinelUsername string
	RedisSentinelPassword Secret

	CookieName   string
	CookieSecret Secret

	SigningAlg      string
	SigningKeyFiles []string
	// SigningKeys holds the PEM contents of SigningKeyFiles, in order.
	SigningKeys [][]byte `json:"-"`
	DevMode     bool
	HS256Secret Secret
	TokenTTL    time.Duration

	RulesFile string
	// Rules is the parsed rules file.
	Rules *policy.Rules `json:"-"`

	TrustedProxies       []netip.Prefix
	AllowedRedirectHosts []string

	SessionLifetime    time.Duration
	SessionIdleTimeout time.Duration
	RefreshWindow      time.Duration
	SessionCacheTTL    time.Duration
	PassUserHeaders    bool

	LogLevel        slog.Level
	ShutdownTimeout time.Duration
	CheckConfig     bool
}

// LogValue implements slog.LogValuer: every field, secrets redacted.
func (c *Config) LogValue() slog.Value {
	prefixes := make([]string, 0, len(c.TrustedProxies))
	for _, p := range c.TrustedProxies {
		prefixes = append(prefixes, p.String())
	}
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("public_url", c.PublicURL),
		slog.String("fusionauth_url", c.FusionAuthURL),
		slog.String("oidc_issuer", c.OIDCIssuer),
		slog.String("client_id", c.ClientID),
		slog.Any("oidc_scopes", c.OIDCScopes),
		slog.String("oidc_roles_claim", c.RolesClaim),
		slog.String("oidc_access_token_format", c.AccessTokenFormat),
		slog.Any("client_secret", c.ClientSecret),
		slog.Any("redis_addrs", c.RedisAddrs),
		slog.String("redis_master_name", c.RedisMasterName),
		slog.String("redis_username", c.RedisUsername),
		slog.Any("redis_password", c.RedisPassword),
		slog.Int("redis_db", c.RedisDB),
		slog.Bool("redis_tls", c.RedisTLS),
		slog.String("redis_sentinel_username", c.RedisSentinelUsername),
		slog.Any("redis_sentinel_password", c.RedisSentinelPassword),
		slog.String("cookie_name", c.CookieName),
		slog.Any("cookie_secret", c.CookieSecret),
		slog.String("signing_alg", c.SigningAlg),
		slog.Any("signing_key_files", c.SigningKeyFiles),
		slog.Bool("dev_mode", c.DevMode),
		slog.Any("hs256_secret", c.HS256Secret),
		slog.String("token_ttl", c.TokenTTL.String()),
		slog.String("rules_file", c.RulesFile),
		slog.Any("trusted_proxies", prefixes),
		slog.Any("allowed_redirect_hosts", c.AllowedRedirectHosts),
		slog.String("session_lifetime", c.SessionLifetime.String()),
		slog.String("session_idle_timeout", c.SessionIdleTimeout.String()),
		slog.String("refresh_window", c.RefreshWindow.String()),
		slog.String("session_cache_ttl", c.SessionCacheTTL.String()),
		slog.Bool("pass_user_headers", c.PassUserHeaders),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
	)
}

// PublicHTTPS reports whether the public URL uses https (then the session
// cookie is Secure and carries the __Host- prefix).
func (c *Config) PublicHTTPS() bool {
	return strings.HasPrefix(strings.ToLower(c.PublicURL), "https://")
}

// SessionCookieName is the cookie name actually used: CookieName with the
// __Host- prefix when the public URL is https.
func (c *Config) SessionCookieName() string {
	if c.PublicHTTPS() && !strings.HasPrefix(c.CookieName, "__Host-") {
		return "__Host-" + c.CookieName
	}
	return c.CookieName
}

// Validate checks the resolved values and returns every problem at once,
// each wrapping ErrInvalid. It does not read files (Load does).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if c.Listen == "" {
		bad("listen: required")
	}
	if err := checkAbsHTTP(c.PublicURL); err != nil {
		bad("public-url: %v", err)
	}
	if c.FusionAuthURL == "" {
		bad("fusionauth-url: required")
	} else if err := checkAbsHTTP(c.FusionAuthURL); err != nil {
		bad("fusionauth-url: %v", err)
	}
	if c.OIDCIssuer != "" {
		if err := checkAbsHTTP(c.OIDCIssuer); err != nil {
			bad("oidc-issuer: %v", err)
		}
	}
	if c.PublicURL != "" && (sameBaseURL(c.PublicURL, c.FusionAuthURL) || sameBaseURL(c.PublicURL, c.OIDCIssuer)) {
		// Gateway tokens carry the public URL as iss: it must never be an
		// issuer the services also trust for FusionAuth tokens.
		bad("public-url: must not be the identity provider's URL or issuer (%s)", c.PublicURL)
	}
	if c.ClientID == "" {
		bad("client-id: required")
	}
	if c.ClientSecret == "" {
		bad("client-secret: required (client-secret-file or AUTHPROXY_CLIENT_SECRET)")
	}
	switch c.AccessTokenFormat {
	case "", AccessTokenJWT:
	case AccessTokenOpaque:
		if c.Rules != nil {
			for _, r := range c.Rules.All() {
				if r.Forward == policy.ForwardAccessToken {
					bad("rules-file: rule %q forwards the access token, which needs a JWT access token; this provider's are opaque (oidc-access-token-format=opaque): use forward: gateway-jwt", r.Name)
				}
			}
		}
	default:
		bad("oidc-access-token-format: %q is not jwt or opaque", c.AccessTokenFormat)
	}
	if c.RolesClaim != "" && strings.TrimSpace(c.RolesClaim) == "" || strings.HasPrefix(c.RolesClaim, ".") || strings.HasSuffix(c.RolesClaim, ".") || strings.Contains(c.RolesClaim, "..") {
		bad("oidc-roles-claim: %q is not a claim name or dotted path", c.RolesClaim)
	}
	for _, sc := range c.OIDCScopes {
		if strings.ContainsAny(sc, " \"\\") {
			bad("oidc-scopes: %q is not a scope token", sc)
		}
	}
	if len(c.RedisAddrs) == 0 {
		bad("redis-addrs: required (host:port, comma separated)")
	}
	for _, a := range c.RedisAddrs {
		if _, _, err := splitHostPort(a); err != nil {
			bad("redis-addrs: %q: %v", a, err)
		}
	}
	if c.RedisDB < 0 {
		bad("redis-db: must not be negative")
	}
	if c.RedisMasterName == "" {
		if c.RedisSentinelUsername != "" {
			bad("redis-sentinel-username: only with redis-master-name (Sentinel)")
		}
		if c.RedisSentinelPassword != "" {
			bad("redis-sentinel-password: only with redis-master-name (Sentinel)")
		}
	}
	if c.CookieName == "" {
		bad("cookie-name: required")
	} else if !validCookieName(c.CookieName) {
		bad("cookie-name: %q is not a valid cookie name", c.CookieName)
	} else if (strings.HasPrefix(c.CookieName, "__Host-") || strings.HasPrefix(c.CookieName, "__Secure-")) && !c.PublicHTTPS() {
		// Browsers drop such cookies unless they are Secure, and they are
		// Secure only on https: every login would loop.
		bad("cookie-name: __Host- and __Secure- cookies need an https public-url (got %q)", c.CookieName)
	}
	if len(c.CookieSecret) < MinCookieSecret {
		bad("cookie-secret: must be at least %d bytes (got %d)", MinCookieSecret, len(c.CookieSecret))
	}
	switch c.SigningAlg {
	case "ES256", "RS256", "EdDSA":
		if len(c.SigningKeyFiles) == 0 && !c.DevMode {
			bad("signing-key-files: required for %s unless dev-mode is set", c.SigningAlg)
		}
		for i, k := range c.SigningKeys {
			if b, _ := pem.Decode(k); b == nil {
				bad("signing-key-files: %s: no PEM block", c.SigningKeyFiles[min(i, len(c.SigningKeyFiles)-1)])
			}
		}
	case "HS256":
		if len(c.HS256Secret) < MinCookieSecret && !c.DevMode {
			bad("hs256-secret-file: required for HS256, at least %d bytes", MinCookieSecret)
		}
	default:
		bad("signing-alg: %q is not one of ES256, RS256, EdDSA, HS256", c.SigningAlg)
	}
	if c.RulesFile == "" {
		bad("rules-file: required")
	}
	for _, h := range c.AllowedRedirectHosts {
		if h == "" || strings.ContainsAny(h, "/\\@ ") {
			bad("allowed-redirect-hosts: %q is not a host name", h)
		}
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"token-ttl", c.TokenTTL},
		{"session-lifetime", c.SessionLifetime},
		{"session-idle-timeout", c.SessionIdleTimeout},
		{"refresh-window", c.RefreshWindow},
		{"shutdown-timeout", c.ShutdownTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			bad("%s: must be positive (got %s)", p.name, p.d)
		}
	}
	if c.SessionCacheTTL < 0 {
		bad("session-cache-ttl: must not be negative (0 disables the cache)")
	}
	if c.SessionIdleTimeout > 0 && c.SessionLifetime > 0 && c.SessionIdleTimeout > c.SessionLifetime {
		bad("session-idle-timeout (%s) must not exceed session-lifetime (%s)", c.SessionIdleTimeout, c.SessionLifetime)
	}
	return errors.Join(errs...)
}

func checkAbsHTTP(raw string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must be an absolute http(s) URL", raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be scheme://host[:port][/path] without user, query or fragment", raw)
	}
	return nil
}

// sameBaseURL reports whether a and b name the same base URL, ignoring the
// case of scheme and host and a trailing slash.
func sameBaseURL(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	norm := func(raw string) string {
		u, err := url.Parse(strings.TrimRight(raw, "/"))
		if err != nil {
			return raw
		}
		return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + u.EscapedPath()
	}
	return norm(a) == norm(b)
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i <= 0 {
		return "", 0, errors.New("want host:port")
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, errors.New("bad port")
	}
	return addr[:i], port, nil
}

func validCookieName(s string) bool {
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return true
}

// option is one configuration key, known by its flag name. set parses a raw
// string (flag, env or file value) into the Config.
type option struct {
	name   string // flag name, e.g. "public-url"
	def    string // default as text
	usage  string
	isBool bool
	set    func(c *Config, v string) error
}

func (o option) env() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(o.name, "-", "_"))
}

func (o option) fileKey() string { return strings.ReplaceAll(o.name, "-", "_") }

func str(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = strings.TrimSpace(v); return nil }
}

func secret(f func(c *Config) *Secret) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = Secret(v); return nil }
}

func list(f func(c *Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = splitList(v); return nil }
}

func boolean(f func(c *Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a boolean", v)
		}
		*f(c) = b
		return nil
	}
}

func duration(f func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 90s, 2m, 12h)", v)
		}
		*f(c) = d
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// options lists every key. The file-name twins of secrets (client-secret-file,
// ...) are options too; Load reads them after all layers are merged.
func options(files map[string]*string) []option {
	fileOpt := func(name, usage string) option {
		return option{name: name, usage: usage, set: func(_ *Config, v string) error {
			*files[name] = strings.TrimSpace(v)
			return nil
		}}
	}
	return []option{
		{name: "listen", def: ":4180", usage: "address to listen on", set: str(func(c *Config) *string { return &c.Listen })},
		{name: "public-url", usage: "external base URL of authproxy (gateway token iss; https => __Host- cookie)", set: str(func(c *Config) *string { return &c.PublicURL })},
		{name: "fusionauth-url", usage: "FusionAuth base URL (discovery at <url>/.well-known/openid-configuration)", set: str(func(c *Config) *string { return &c.FusionAuthURL })},
		{name: "oidc-issuer", usage: "expected issuer (default: the discovered one)", set: str(func(c *Config) *string { return &c.OIDCIssuer })},
		{name: "client-id", usage: "FusionAuth application id (OAuth client id)", set: str(func(c *Config) *string { return &c.ClientID })},
		{name: "oidc-scopes", def: "openid,offline_access", usage: "scopes asked for at login, comma separated (openid is always added; e.g. openid,offline_access,email,profile)", set: list(func(c *Config) *[]string { return &c.OIDCScopes })},
		{name: "oidc-roles-claim", def: "roles", usage: "access-token claim holding the roles, a dotted path for nested claims (groups, realm_access.roles); roles = FusionAuth's, counted only when applicationId is the client id", set: str(func(c *Config) *string { return &c.RolesClaim })},
		{name: "oidc-access-token-format", def: "jwt", usage: "the provider's access tokens: jwt (verified; roles and forward: access-token work) or opaque (login by id_token; no roles, no forward: access-token)", set: str(func(c *Config) *string { return &c.AccessTokenFormat })},
		{name: "client-secret", usage: "OAuth client secret (prefer client-secret-file or env)", set: secret(func(c *Config) *Secret { return &c.ClientSecret })},
		fileOpt("client-secret-file", "file holding the OAuth client secret"),
		{name: "redis-addrs", usage: "Redis addresses, comma separated (one: standalone; several: cluster; with redis-master-name: Sentinel)", set: list(func(c *Config) *[]string { return &c.RedisAddrs })},
		{name: "redis-master-name", usage: "Sentinel master name", set: str(func(c *Config) *string { return &c.RedisMasterName })},
		{name: "redis-username", usage: "Redis ACL user name", set: str(func(c *Config) *string { return &c.RedisUsername })},
		{name: "redis-password", usage: "Redis password (prefer redis-password-file or env)", set: secret(func(c *Config) *Secret { return &c.RedisPassword })},
		fileOpt("redis-password-file", "file holding the Redis password"),
		{name: "redis-db", def: "0", usage: "Redis database number (standalone/Sentinel)", set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			c.RedisDB = n
			return nil
		}},
		{name: "redis-sentinel-username", usage: "Sentinel ACL user name (with redis-master-name)", set: str(func(c *Config) *string { return &c.RedisSentinelUsername })},
		{name: "redis-sentinel-password", usage: "Sentinel password, its requirepass (prefer redis-sentinel-password-file or env)", set: secret(func(c *Config) *Secret { return &c.RedisSentinelPassword })},
		fileOpt("redis-sentinel-password-file", "file holding the Sentinel password"),
		{name: "redis-tls", def: "false", isBool: true, usage: "connect to Redis over TLS", set: boolean(func(c *Config) *bool { return &c.RedisTLS })},
		{name: "cookie-name", def: "gw_session", usage: "session cookie name (__Host- is prepended on https)", set: str(func(c *Config) *string { return &c.CookieName })},
		{name: "cookie-secret", usage: "secret (>= 32 bytes) for state and cookie integrity (prefer cookie-secret-file or env)", set: secret(func(c *Config) *Secret { return &c.CookieSecret })},
		fileOpt("cookie-secret-file", "file holding the cookie secret"),
		{name: "signing-alg", def: "ES256", usage: "gateway token algorithm: ES256, RS256, EdDSA or HS256", set: str(func(c *Config) *string { return &c.SigningAlg })},
		{name: "signing-key-files", usage: "PEM private keys, comma separated; the first signs, all are published", set: list(func(c *Config) *[]string { return &c.SigningKeyFiles })},
		{name: "dev-mode", def: "false", isBool: true, usage: "generate a signing key in memory (development only)", set: boolean(func(c *Config) *bool { return &c.DevMode })},
		fileOpt("hs256-secret-file", "file holding the HS256 shared secret (signing-alg=HS256)"),
		{name: "token-ttl", def: "60s", usage: "lifetime of minted gateway tokens", set: duration(func(c *Config) *time.Duration { return &c.TokenTTL })},
		{name: "rules-file", usage: "route rules YAML file", set: str(func(c *Config) *string { return &c.RulesFile })},
		{name: "trusted-proxies", def: "127.0.0.1/32,::1/128", usage: "CIDRs whose forwarded headers are honoured, comma separated", set: func(c *Config, v string) error {
			var prefixes []netip.Prefix
			var errs []error
			for _, s := range splitList(v) {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					if a, aerr := netip.ParseAddr(s); aerr == nil {
						p, err = a.Prefix(a.BitLen())
					}
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%q is not a CIDR", s))
					continue
				}
				prefixes = append(prefixes, p.Masked())
			}
			c.TrustedProxies = prefixes
			return errors.Join(errs...)
		}},
		{name: "allowed-redirect-hosts", usage: "hosts (besides relative paths) accepted as return URLs, comma separated", set: list(func(c *Config) *[]string { return &c.AllowedRedirectHosts })},
		{name: "session-lifetime", def: "12h", usage: "absolute session lifetime", set: duration(func(c *Config) *time.Duration { return &c.SessionLifetime })},
		{name: "session-idle-timeout", def: "1h", usage: "session idle timeout", set: duration(func(c *Config) *time.Duration { return &c.SessionIdleTimeout })},
		{name: "refresh-window", def: "2m", usage: "refresh the access token when it expires within this window", set: duration(func(c *Config) *time.Duration { return &c.RefreshWindow })},
		{name: "session-cache-ttl", def: "1s", usage: "in-process session cache lifetime (0 disables)", set: duration(func(c *Config) *time.Duration { return &c.SessionCacheTTL })},
		{name: "pass-user-headers", def: "false", isBool: true, usage: "add X-Auth-Request-User/-Email to allowed responses", set: boolean(func(c *Config) *bool { return &c.PassUserHeaders })},
		{name: "log-level", def: "info", usage: "debug, info, warn or error", set: func(c *Config, v string) error {
			return c.LogLevel.UnmarshalText([]byte(strings.TrimSpace(v)))
		}},
		{name: "shutdown-timeout", def: "15s", usage: "graceful shutdown timeout", set: duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	}
}

// flagValue records a flag's raw text so layers can be merged afterwards.
type flagValue struct {
	raw    string
	isBool bool
}

func (v *flagValue) String() string     { return v.raw }
func (v *flagValue) Set(s string) error { v.raw = s; return nil }
func (v *flagValue) IsBoolFlag() bool   { return v.isBool }

// Load resolves the configuration from args (without the program name),
// getenv (os.Getenv in main) and the YAML file named by --config, reads the
// secret, key and rules files, and validates the result. The error joins
// every problem found. usage receives -h output.
func Load(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	files := map[string]*string{
		"client-secret-file":           new(string),
		"redis-password-file":          new(string),
		"redis-sentinel-password-file": new(string),
		"cookie-secret-file":           new(string),
		"hs256-secret-file":            new(string),
	}
	opts := options(files)

	fs := flag.NewFlagSet("authproxy", flag.ContinueOnError)
	fs.SetOutput(usage)
	values := make(map[string]*flagValue, len(opts))
	for _, o := range opts {
		v := &flagValue{raw: o.def, isBool: o.isBool} // raw shows as the default in -h; only set flags are applied
		values[o.name] = v
		fs.Var(v, o.name, fmt.Sprintf("%s [%s]", o.usage, o.env()))
	}
	configFile := fs.String("config", getenv(EnvPrefix+"CONFIG"), "YAML configuration file (keys: flag names in snake_case) ["+EnvPrefix+"CONFIG]")
	checkConfig := fs.Bool("check-config", false, "validate the configuration, print ok or every problem, and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q", ErrInvalid, fs.Args())
	}
	setFlags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })

	var errs []error
	addErr := func(source, name string, err error) {
		errs = append(errs, fmt.Errorf("%w: %s (%s): %w", ErrInvalid, name, source, err))
	}

	// Layers, lowest first: default, file, env, flag.
	raw := make(map[string]string, len(opts))
	source := make(map[string]string, len(opts))
	for _, o := range opts {
		if o.def != "" {
			raw[o.name], source[o.name] = o.def, "default"
		}
	}
	if *configFile != "" {
		fileVals, err := readFile(*configFile, opts)
		errs = append(errs, err)
		for k, v := range fileVals {
			raw[k], source[k] = v, "file "+*configFile
		}
	}
	for _, o := range opts {
		if v, ok := lookupEnv(getenv, o.env()); ok {
			raw[o.name], source[o.name] = v, "env "+o.env()
		}
		if setFlags[o.name] {
			raw[o.name], source[o.name] = values[o.name].raw, "flag --"+o.name
		}
	}

	c := &Config{CheckConfig: *checkConfig}
	for _, o := range opts {
		v, ok := raw[o.name]
		if !ok {
			continue
		}
		if err := o.set(c, v); err != nil {
			addErr(source[o.name], o.name, err)
		}
	}

	// Secret files: giving both the inline value and its file is ambiguous
	// and rejected.
	secretFiles := []struct {
		file   string
		inline string
		target *Secret
	}{
		{"client-secret-file", "client-secret", &c.ClientSecret},
		{"redis-password-file", "redis-password", &c.RedisPassword},
		{"redis-sentinel-password-file", "redis-sentinel-password", &c.RedisSentinelPassword},
		{"cookie-secret-file", "cookie-secret", &c.CookieSecret},
		{"hs256-secret-file", "", &c.HS256Secret},
	}
	for _, sf := range secretFiles {
		path := *files[sf.file]
		if path == "" {
			continue
		}
		if sf.inline != "" && *sf.target != "" {
			errs = append(errs, fmt.Errorf("%w: %s and %s are both set; give one", ErrInvalid, sf.inline, sf.file))
			continue
		}
		b, err := os.ReadFile(path) //nolint:gosec // G304: the path comes from the operator's configuration
		if err != nil {
			addErr(source[sf.file], sf.file, err)
			continue
		}
		*sf.target = Secret(strings.TrimRight(string(b), "\r\n"))
	}
	for _, f := range c.SigningKeyFiles {
		b, err := os.ReadFile(f) //nolint:gosec // G304: the path comes from the operator's configuration
		if err != nil {
			addErr(source["signing-key-files"], "signing-key-files", err)
			continue
		}
		c.SigningKeys = append(c.SigningKeys, b)
	}
	if c.RulesFile != "" {
		rules, err := policy.Load(c.RulesFile)
		if err != nil {
			addErr(source["rules-file"], "rules-file", err)
		}
		c.Rules = rules
	}
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

func lookupEnv(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

// readFile reads the YAML config file into raw option text keyed by flag
// name. Lists may be YAML sequences or comma-separated strings.
func readFile(path string, opts []option) (map[string]string, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the path comes from the operator's configuration
	if err != nil {
		return nil, fmt.Errorf("%w: config %s: %w", ErrInvalid, path, err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%w: config %s: %w", ErrInvalid, path, err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(j, &doc); err != nil {
		return nil, fmt.Errorf("%w: config %s: top level must be a mapping: %w", ErrInvalid, path, err)
	}
	byKey := make(map[string]option, len(opts))
	for _, o := range opts {
		byKey[o.fileKey()] = o
	}
	out := make(map[string]string, len(doc))
	var errs []error
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		o, ok := byKey[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%w: config %s: unknown key %q", ErrInvalid, path, k))
			continue
		}
		v, err := scalarText(doc[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: config %s: %s: %w", ErrInvalid, path, k, err))
			continue
		}
		out[o.name] = v
	}
	return out, errors.Join(errs...)
}

func scalarText(r json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(r, &list) == nil {
		parts := make([]string, 0, len(list))
		for _, e := range list {
			t, err := scalarText(e)
			if err != nil || strings.Contains(t, ",") {
				return "", errors.New("list elements must be scalars without commas")
			}
			parts = append(parts, t)
		}
		return strings.Join(parts, ","), nil
	}
	var mapping map[string]json.RawMessage
	if json.Unmarshal(r, &mapping) == nil {
		return "", errors.New("must be a scalar or a list, not a mapping")
	}
	if string(r) == "null" {
		return "", nil
	}
	return string(r), nil // numbers and booleans as written
}
