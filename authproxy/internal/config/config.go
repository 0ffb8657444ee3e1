package config

import (
	"encoding/pem"
	"errors"
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

	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/services/shared/options"
)

// EnvPrefix prefixes every environment variable authproxy reads.
const EnvPrefix = "AUTHPROXY_"

// MinCookieSecret is the minimum length of the cookie secret in bytes.
const MinCookieSecret = 32

// ErrInvalid wraps every configuration problem, so callers can tell a bad
// configuration (exit 2) from other failures with errors.Is.
var ErrInvalid = options.ErrInvalid

// ErrHelp is returned when -h or --help was given; usage has been printed.
var ErrHelp = options.ErrHelp

// Secret is a string that never prints: fmt, slog and JSON show "[REDACTED]"
// (or "" when unset) instead of the value.
type Secret = options.Secret

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
	// ClientSecretFile, when set, is read into ClientSecret by Load; the
	// other *File fields work the same way.
	ClientSecretFile string
	// OIDCScopes are requested at login (openid is always added).
	OIDCScopes []string
	// RolesClaim is the access-token claim (dotted path) holding roles;
	// "roles" is FusionAuth's, with its applicationId check.
	RolesClaim string
	// AccessTokenFormat is AccessTokenJWT or AccessTokenOpaque.
	AccessTokenFormat string

	RedisAddrs        []string
	RedisMasterName   string
	RedisUsername     string
	RedisPassword     Secret
	RedisPasswordFile string
	RedisDB           int
	RedisTLS          bool
	// Sentinel's own credentials (requirepass / ACL on the sentinels), as
	// distinct from the data nodes' RedisUsername/RedisPassword.
	RedisSentinelUsername     string
	RedisSentinelPassword     Secret
	RedisSentinelPasswordFile string

	CookieName       string
	CookieSecret     Secret
	CookieSecretFile string

	SigningAlg      string
	SigningKeyFiles []string
	// SigningKeys holds the PEM contents of SigningKeyFiles, in order.
	SigningKeys     [][]byte `json:"-"`
	DevMode         bool
	HS256Secret     Secret
	HS256SecretFile string
	TokenTTL        time.Duration
	// RevocationRetention is how long the revocation feed lists an ended
	// session or user (session.Config.RevocationRetention).
	RevocationRetention time.Duration

	RulesFile string
	// Rules is the parsed rules file.
	Rules *policy.Rules `json:"-"`
	// RulesReload polls RulesFile every RulesReloadInterval and swaps in
	// a changed file's rules once they pass ParseRules.
	RulesReload         bool
	RulesReloadInterval time.Duration

	TrustedProxies       []netip.Prefix
	AllowedRedirectHosts []string

	SessionLifetime    time.Duration
	SessionIdleTimeout time.Duration
	RefreshWindow      time.Duration
	SessionCacheTTL    time.Duration
	// SessionCacheEntries bounds the session cache (session.CacheConfig.MaxEntries).
	SessionCacheEntries int
	// TokenCacheEntries bounds the minted gateway-token cache.
	TokenCacheEntries int
	PassUserHeaders   bool

	// WebhookEnabled serves FusionAuth's webhook at /webhooks/fusionauth.
	WebhookEnabled     bool
	WebhookHMACKeyFile string
	// WebhookHMACKey is read from WebhookHMACKeyFile.
	WebhookHMACKey  Secret
	WebhookTenantID string
	// WebhookListen, when set, is the address of a second listener that
	// alone serves the calls the identity provider makes (the webhook and
	// back-channel logout); the main listener then does not.
	WebhookListen string
	// BackChannelLogoutEnabled serves OpenID Connect back-channel logout.
	BackChannelLogoutEnabled bool
	// IdPLogoutAPI lets logout revoke the refresh token through FusionAuth's
	// Logout API when the provider has no revocation_endpoint.
	IdPLogoutAPI bool

	LogLevel slog.Level
	// DecisionLogRate bounds the allowed decisions logged per second (0 = all).
	DecisionLogRate int
	ShutdownTimeout time.Duration
	CheckConfig     bool

	// sources says where each option's value came from (--check-config).
	sources map[string]string
	// redisOnly marks a configuration loaded by LoadRedis.
	redisOnly bool
}

// LogValue implements slog.LogValuer: every option of the table (the Redis
// options only, for LoadRedis), secrets redacted.
func (c *Config) LogValue() slog.Value { return c.table().LogValue() }

// Summary is the effective configuration for --check-config: every option
// (the Redis options only, for LoadRedis), where its value came from,
// secrets redacted.
func (c *Config) Summary() string { return c.table().Summary(c.sources) }

// CheckOnly reports whether --check-config was given.
func (c *Config) CheckOnly() bool { return c.CheckConfig }

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
// each wrapping ErrInvalid (options.Problemf). It does not read files (Load
// does).
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, options.Problemf(format, args...)) }
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
			errs = append(errs, c.checkRules(c.Rules)...)
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
	c.validateRedis(bad)
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
	if c.RulesReload && c.RulesReloadInterval <= 0 {
		bad("rules-reload-interval: must be positive with rules-reload (got %s)", c.RulesReloadInterval)
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
		{"revocation-retention", c.RevocationRetention},
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
	if c.RevocationRetention > 0 && c.TokenTTL > c.RevocationRetention {
		bad("revocation-retention: must be at least token-ttl (%s), the gateway tokens' lifetime (got %s)", c.TokenTTL, c.RevocationRetention)
	}
	if c.WebhookHMACKeyFile != "" && len(c.WebhookHMACKey) < MinCookieSecret {
		bad("webhook-hmac-key-file: the key must be at least %d bytes (got %d)", MinCookieSecret, len(c.WebhookHMACKey))
	}
	if c.SessionCacheTTL < 0 {
		bad("session-cache-ttl: must not be negative (0 disables the cache)")
	}
	if c.SessionCacheEntries < 1 {
		bad("session-cache-entries: must be at least 1 (got %d); --session-cache-ttl 0 disables the cache", c.SessionCacheEntries)
	}
	if c.TokenCacheEntries < 1 {
		bad("token-cache-entries: must be at least 1 (got %d)", c.TokenCacheEntries)
	}
	if c.WebhookListen != "" && c.WebhookListen == c.Listen {
		bad("webhook-listen: must differ from listen")
	}
	if c.DecisionLogRate < 0 {
		bad("decision-log-rate: must not be negative (0 logs every decision)")
	}
	if c.SessionIdleTimeout > 0 && c.SessionLifetime > 0 && c.SessionIdleTimeout > c.SessionLifetime {
		bad("session-idle-timeout (%s) must not exceed session-lifetime (%s)", c.SessionIdleTimeout, c.SessionLifetime)
	}
	return errors.Join(errs...)
}

// ParseRules parses a rules document and checks the rules against the rest
// of the configuration, as Load does at start: the rules reload
// (server.ReloadRules) takes a changed file only through it. The error
// joins every problem.
func (c *Config) ParseRules(data []byte) (*policy.Rules, error) {
	rules, err := policy.Parse(data)
	if err != nil {
		return nil, err
	}
	if errs := c.checkRules(rules); len(errs) > 0 {
		return nil, fmt.Errorf("config: rules: %w", errors.Join(errs...))
	}
	return rules, nil
}

// checkRules reports the rules this configuration cannot serve: with opaque
// access tokens, a rule that forwards the access token.
func (c *Config) checkRules(rules *policy.Rules) []error {
	if c.AccessTokenFormat != AccessTokenOpaque {
		return nil
	}
	var errs []error
	for _, r := range rules.All() {
		if r.Forward == policy.ForwardAccessToken {
			errs = append(errs, options.Problemf("rules-file: rule %q forwards the access token, which needs a JWT access token; this provider's are opaque (oidc-access-token-format=opaque): use forward: gateway-jwt", r.Name))
		}
	}
	return errs
}

// validateRedis checks the Redis settings (Validate and LoadRedis).
func (c *Config) validateRedis(bad func(format string, args ...any)) {
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

// options is authproxy's option table, bound to c's fields: Load fills c
// through it, LogValue and Summary read c through it, and the README's
// table is rendered from it.
func (c *Config) options() options.Set {
	str := options.String
	return options.Set{
		Program:    "authproxy",
		Synopsis:   "usage: authproxy [flags]\n       authproxy sessions list|revoke ...  (a user's sessions in Redis; see authproxy sessions -h)",
		EnvPrefix:  EnvPrefix,
		ConfigFile: true,
		Options: []options.Option{
			{Name: "listen", Default: ":4180", Usage: "address to serve on", Value: str(&c.Listen)},
			{Name: "public-url", DocDefault: "required", Usage: "external URL of the gateway: gateway-token `iss`, callback base; `https` gives a `__Host-` cookie", Value: str(&c.PublicURL)},
			{Name: "fusionauth-url", DocDefault: "required", Usage: "FusionAuth base URL; discovery at `<url>/.well-known/openid-configuration`", Value: str(&c.FusionAuthURL)},
			{Name: "oidc-issuer", DocDefault: "discovered", Usage: "pin the expected issuer", Value: str(&c.OIDCIssuer)},
			{Name: "client-id", DocDefault: "required", Usage: "FusionAuth application id (OAuth client id, access-token `aud`)", Value: str(&c.ClientID)},
			{Name: "client-secret", DocDefault: "required, or its file", Usage: "OAuth client secret (prefer `--client-secret-file` or the variable)", Value: options.SecretString(&c.ClientSecret)},
			{Name: "client-secret-file", Usage: "file holding the OAuth client secret", Value: str(&c.ClientSecretFile)},
			{Name: "oidc-scopes", Default: "openid,offline_access", Usage: "scopes asked for at login (`openid` always added); add `email,profile` for providers that need them", Value: options.Strings(&c.OIDCScopes)},
			{Name: "oidc-roles-claim", Default: "roles", Usage: "access-token claim holding the roles; `roles` is FusionAuth's and counts only when `applicationId` is the client id (registered users); any other name or dotted path (`groups`, `realm_access.roles`) is read as is", Value: str(&c.RolesClaim)},
			{Name: "oidc-access-token-format", Default: AccessTokenJWT, Usage: "`jwt`: access tokens verified, roles and `forward: access-token` work; `opaque`: login by the id_token, no roles, a rule with `forward: access-token` is refused at start", Value: str(&c.AccessTokenFormat)},
			{Name: "redis-addrs", DocDefault: "required", Usage: "Redis addresses: one: standalone; several: Cluster; with `--redis-master-name`: the Sentinels", Value: options.Strings(&c.RedisAddrs)},
			{Name: "redis-master-name", Usage: "Sentinel master name", Value: str(&c.RedisMasterName)},
			{Name: "redis-username", Usage: "Redis ACL user name", Value: str(&c.RedisUsername)},
			{Name: "redis-password", Usage: "Redis password (prefer `--redis-password-file` or the variable)", Value: options.SecretString(&c.RedisPassword)},
			{Name: "redis-password-file", Usage: "file holding the Redis password", Value: str(&c.RedisPasswordFile)},
			{Name: "redis-db", Default: "0", Usage: "Redis database number (standalone, Sentinel)", Value: options.Int(&c.RedisDB)},
			{Name: "redis-sentinel-username", Usage: "ACL user name of the Sentinels themselves; only with `--redis-master-name`", Value: str(&c.RedisSentinelUsername)},
			{Name: "redis-sentinel-password", Usage: "password of the Sentinels themselves, their `requirepass` (prefer `--redis-sentinel-password-file` or the variable); only with `--redis-master-name`", Value: options.SecretString(&c.RedisSentinelPassword)},
			{Name: "redis-sentinel-password-file", Usage: "file holding the Sentinel password", Value: str(&c.RedisSentinelPasswordFile)},
			{Name: "redis-tls", Default: "false", Usage: "connect to Redis over TLS", Value: options.Bool(&c.RedisTLS)},
			{Name: "cookie-name", Default: "gw_session", Usage: "session cookie name (`__Host-` prepended on https)", Value: str(&c.CookieName)},
			{Name: "cookie-secret", DocDefault: "required, ≥ 32 bytes, or its file", Usage: "protects login state and cookie integrity (prefer `--cookie-secret-file` or the variable)", Value: options.SecretString(&c.CookieSecret)},
			{Name: "cookie-secret-file", Usage: "file holding the cookie secret", Value: str(&c.CookieSecretFile)},
			{Name: "signing-alg", Default: "ES256", Usage: "gateway-token algorithm: `ES256`, `RS256`, `EdDSA` or `HS256`", Value: str(&c.SigningAlg)},
			{Name: "signing-key-files", DocDefault: "required unless dev mode", Usage: "PEM private keys; the first signs, all are published", Value: options.Strings(&c.SigningKeyFiles)},
			{Name: "dev-mode", Default: "false", Usage: "generate a signing key in memory (development only)", Value: options.Bool(&c.DevMode)},
			{Name: "hs256-secret-file", Usage: "file holding the shared secret for `HS256` (tutorial compatibility)", Value: str(&c.HS256SecretFile)},
			{Name: "token-ttl", Default: "60s", Usage: "lifetime of minted gateway tokens", Value: options.Duration(&c.TokenTTL)},
			{Name: "revocation-retention", Default: "1h", Usage: "how long the revocation feed (`/revocations`) lists an ended session or user: at least the longest access-token lifetime, FusionAuth's `applicationTimeToLiveInSeconds` (3600 by default), and `--token-ttl`", Value: options.Duration(&c.RevocationRetention)},
			{Name: "rules-file", DocDefault: "required", Usage: "route rules YAML file (above)", Value: str(&c.RulesFile)},
			{Name: "rules-reload", Default: "true", Usage: "pick up a changed rules file without a restart (a ConfigMap update); an invalid file keeps the rules in force", Value: options.Bool(&c.RulesReload)},
			{Name: "rules-reload-interval", Default: "2s", Usage: "how often the rules file is read for a change, with `--rules-reload`", Value: options.Duration(&c.RulesReloadInterval)},
			{Name: "trusted-proxies", Default: "127.0.0.1/32,::1/128", Usage: "CIDRs or addresses of the peers whose forwarded headers are honoured; others get 403", Value: options.List(&c.TrustedProxies, parsePrefix, netip.Prefix.String)},
			{Name: "allowed-redirect-hosts", Usage: "hosts besides relative paths accepted as return URLs", Value: options.Strings(&c.AllowedRedirectHosts)},
			{Name: "session-lifetime", Default: "12h", Usage: "absolute session lifetime", Value: options.Duration(&c.SessionLifetime)},
			{Name: "session-idle-timeout", Default: "1h", Usage: "session idle timeout", Value: options.Duration(&c.SessionIdleTimeout)},
			{Name: "refresh-window", Default: "2m", Usage: "refresh the access token when it expires within this window; a window not shorter than the provider's token lifetime is clamped to half the lifetime, with a warning", Value: options.Duration(&c.RefreshWindow)},
			{Name: "session-cache-ttl", Default: "1s", Usage: "in-process session cache lifetime (0 disables); entries are dropped on every replica at logout and refresh (pub/sub), and a revoked session is refused within about 1 s (the revocation feed) whatever this lifetime; longer keeps more of many distinct sessions cached (see Sizing)", Value: options.Duration(&c.SessionCacheTTL)},
			{Name: "session-cache-entries", Default: "10000", Usage: "most sessions the session cache holds (about 1.7 KB of heap each, see Sizing); more than the distinct sessions seen within `--session-cache-ttl` buys nothing", Value: options.Int(&c.SessionCacheEntries)},
			{Name: "token-cache-entries", Default: "10000", Usage: "most minted gateway tokens kept for reuse (about 1.2 KB of heap each, see Sizing); a token is reused for the first three quarters of `--token-ttl`, so size it for the distinct (session, upstream) pairs seen in that time", Value: options.Int(&c.TokenCacheEntries)},
			{Name: "webhook-enabled", Default: "false", Usage: "serve FusionAuth's webhook at `/webhooks/fusionauth` (revocation, see above); every request must carry FusionAuth's signature, verified with the IdP's JWKS or `--webhook-hmac-key-file`", Value: options.Bool(&c.WebhookEnabled)},
			{Name: "webhook-hmac-key-file", Usage: "file holding the HMAC key (≥ 32 bytes) FusionAuth signs webhooks with, when it signs with an HMAC key rather than a published one; then only HS256/384/512 signatures are accepted", Value: str(&c.WebhookHMACKeyFile)},
			{Name: "webhook-tenant-id", DocDefault: "any", Usage: "act only on webhook events of this FusionAuth tenant", Value: str(&c.WebhookTenantID)},
			{Name: "webhook-listen", DocDefault: "the main listener", Usage: "serve the identity provider's calls (the webhook, back-channel logout) on this address only, e.g. `:4181`, so a NetworkPolicy can admit them from the IdP alone", Value: str(&c.WebhookListen)},
			{Name: "backchannel-logout-enabled", Default: "false", Usage: "serve OpenID Connect back-channel logout at `/oauth2/backchannel-logout` (a provider's signed `logout_token` ends the sessions it names; FusionAuth sends none)", Value: options.Bool(&c.BackChannelLogoutEnabled)},
			{Name: "idp-logout-api", Default: "true", Usage: "at logout, when the provider announces no `revocation_endpoint` and its token endpoint ends in `/oauth2/token` (FusionAuth), revoke the session's refresh token with FusionAuth's Logout API (`POST /api/logout`, no API key); with a `revocation_endpoint`, RFC 7009 is used instead", Value: options.Bool(&c.IdPLogoutAPI)},
			{Name: "pass-user-headers", Default: "false", Usage: "add `X-Auth-Request-User`/`-Email` to allowed answers", Value: options.Bool(&c.PassUserHeaders)},
			{Name: "log-level", Default: "info", Usage: "debug, info, warn or error", Value: options.Level(&c.LogLevel)},
			{Name: "decision-log-rate", Default: "100", Usage: "at most this many allowed decisions logged per second (the next line written says how many were `suppressed`; `authproxy_decisions_total` counts them all); every denial and error is logged; 0 logs every decision", Value: options.Int(&c.DecisionLogRate)},
			{Name: "shutdown-timeout", Default: "15s", Usage: "time in-flight requests get after SIGTERM", Value: options.Duration(&c.ShutdownTimeout)},
		},
	}
}

// table is the option table c was loaded with: every option, or the Redis
// options for a LoadRedis configuration.
func (c *Config) table() options.Set {
	if c.redisOnly {
		return c.options().Subset(func(o options.Option) bool { return isRedis(o.Name) })
	}
	return c.options()
}

// isRedis reports whether the option (or secret file) named is a Redis
// setting: those LoadRedis reads.
func isRedis(name string) bool { return strings.HasPrefix(name, "redis-") }

// parsePrefix reads a CIDR, or an address as its single-address prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p.Masked(), nil
}

// Load resolves the configuration from args (without the program name),
// getenv (os.Getenv in main) and the YAML file named by --config, reads the
// secret, key and rules files, and validates the result. The error joins
// every problem found. usage receives -h output.
func Load(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	c := &Config{}
	loaded, err := c.options().Load(args, getenv, usage)
	if err != nil {
		return nil, err
	}
	c.CheckConfig, c.sources = loaded.CheckConfig, loaded.Sources
	errs := append(loaded.Problems, c.readSecretFiles(func(string) bool { return true })...)
	problem := func(name string, err error) {
		errs = append(errs, &options.Problem{Option: name, Source: c.sources[name], Err: err})
	}
	for _, f := range c.SigningKeyFiles {
		b, err := os.ReadFile(f) //nolint:gosec // G304: the path comes from the operator's configuration
		if err != nil {
			problem("signing-key-files", err)
			continue
		}
		c.SigningKeys = append(c.SigningKeys, b)
	}
	if c.RulesFile != "" {
		rules, err := policy.Load(c.RulesFile)
		if err != nil {
			problem("rules-file", err)
		}
		c.Rules = rules
	}
	return c, options.Invalid(append(errs, c.Validate())...)
}

// LoadRedis is Load for a command that only talks to authproxy's Redis
// (authproxy sessions): the Redis options come from the same flags,
// AUTHPROXY_* variables and --config file as the server's (the file's other
// keys are accepted and ignored, so the server's file serves), the Redis
// password files are read, and only the Redis settings are checked: nothing
// else is demanded. cmd gives the command's Program, Synopsis and its own
// arguments (FlagOnly options), listed before the Redis options. The Config
// has only its Redis fields set; its Summary and LogValue show only them.
func LoadRedis(cmd options.Set, args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	c := &Config{redisOnly: true}
	set := c.table()
	set.Program, set.Synopsis = cmd.Program, cmd.Synopsis
	set.Options = append(slices.Clone(cmd.Options), set.Options...)
	loaded, err := set.Load(args, getenv, usage)
	if err != nil {
		return nil, err
	}
	c.CheckConfig, c.sources = loaded.CheckConfig, loaded.Sources
	errs := append(loaded.Problems, c.readSecretFiles(isRedis)...)
	c.validateRedis(func(format string, args ...any) { errs = append(errs, options.Problemf(format, args...)) })
	return c, options.Invalid(errs...)
}

// readSecretFiles reads the secret files that keep selects (by option name)
// into their secrets. Giving both the inline value and its file is
// ambiguous and rejected.
func (c *Config) readSecretFiles(keep func(name string) bool) []error {
	secretFiles := []struct {
		file   string
		path   string
		inline string
		target *Secret
	}{
		{"client-secret-file", c.ClientSecretFile, "client-secret", &c.ClientSecret},
		{"redis-password-file", c.RedisPasswordFile, "redis-password", &c.RedisPassword},
		{"redis-sentinel-password-file", c.RedisSentinelPasswordFile, "redis-sentinel-password", &c.RedisSentinelPassword},
		{"cookie-secret-file", c.CookieSecretFile, "cookie-secret", &c.CookieSecret},
		{"hs256-secret-file", c.HS256SecretFile, "", &c.HS256Secret},
		{"webhook-hmac-key-file", c.WebhookHMACKeyFile, "", &c.WebhookHMACKey},
	}
	var errs []error
	for _, sf := range secretFiles {
		if sf.path == "" || !keep(sf.file) {
			continue
		}
		if sf.inline != "" && *sf.target != "" {
			errs = append(errs, options.Problemf("%s and %s are both set; give one", sf.inline, sf.file))
			continue
		}
		b, err := os.ReadFile(sf.path) //nolint:gosec // G304: the path comes from the operator's configuration
		if err != nil {
			errs = append(errs, &options.Problem{Option: sf.file, Source: c.sources[sf.file], Err: err})
			continue
		}
		*sf.target = Secret(strings.TrimRight(string(b), "\r\n"))
	}
	return errs
}
