package devidp

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Defaults shared with the FusionAuth kickstart (k8s/fusionauth/kickstart.json).
const (
	// DefaultClientID is the Gateway application id, which FusionAuth also uses as client_id.
	DefaultClientID = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"
	// DefaultClientSecret is the Gateway application's development client secret.
	DefaultClientSecret = "dev-client-secret"
	// DefaultTenantID is the tenant id put in the tid claim.
	DefaultTenantID = "d7d09513-a3f5-401c-9685-34ab6c552453"
	// DefaultAccessTokenTTL is FusionAuth's default JWT duration (3600 s).
	DefaultAccessTokenTTL = time.Hour
	// DefaultRefreshTokenTTL is FusionAuth's default refresh token duration (43200 minutes).
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	// DefaultCodeTTL is FusionAuth's authorization code lifetime (30 s).
	DefaultCodeTTL = 30 * time.Second
	// DefaultSSOTTL is FusionAuth's default SSO session length (3600 s).
	DefaultSSOTTL = time.Hour
)

// Config configures a Server. Zero fields take the defaults above; Issuer and RedirectURIs are
// required.
type Config struct {
	// Issuer is the iss claim and the base URL of every endpoint, e.g. http://127.0.0.1:9011.
	Issuer string
	// ClientID is the application id (client_id, aud, applicationId).
	ClientID string
	// ClientSecret authenticates the client at /oauth2/token and /oauth2/introspect.
	ClientSecret string
	// TenantID is the tid claim.
	TenantID string
	// RedirectURIs are the authorized redirect URLs (exact match).
	RedirectURIs []string
	// LogoutURIs are extra URLs /oauth2/logout may redirect to; the first is the application's
	// logout URL, used when post_logout_redirect_uri is absent. Authorized redirect URLs are also
	// accepted, as in FusionAuth.
	LogoutURIs []string
	// AccessTokenTTL is the access and id token lifetime.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the refresh token lifetime.
	RefreshTokenTTL time.Duration
	// CodeTTL is the authorization code lifetime.
	CodeTTL time.Duration
	// SSOTTL is the IdP SSO session lifetime.
	SSOTTL time.Duration
	// RotateRefreshTokens turns on FusionAuth's "OneTimeUse" refresh token policy.
	RotateRefreshTokens bool
	// PKCEOptional allows authorization requests without PKCE (FusionAuth's "NotRequired");
	// by default PKCE S256 is required. The "plain" method is never accepted.
	PKCEOptional bool
	// Users are the accounts; nil means DefaultUsers().
	Users []User
	// WebhookURL receives FusionAuth's events (signed, X-FusionAuth-Signature-JWT) on the admin
	// actions (RevokeUserTokens, DeactivateUser); empty sends none.
	WebhookURL string
	// WebhookTimeout bounds one delivery attempt; 0 = DefaultWebhookTimeout.
	WebhookTimeout time.Duration
	// APIKey, when set, serves the admin API (DELETE /api/jwt/refresh, DELETE /api/user/{id})
	// to requests whose Authorization header is this key.
	APIKey string
	// SigningKey signs tokens (RS256); nil means a fresh 2048-bit key.
	SigningKey *rsa.PrivateKey
	// Logger receives JSON logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	if c.TenantID == "" {
		c.TenantID = DefaultTenantID
	}
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if c.RefreshTokenTTL == 0 {
		c.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if c.CodeTTL == 0 {
		c.CodeTTL = DefaultCodeTTL
	}
	if c.SSOTTL == 0 {
		c.SSOTTL = DefaultSSOTTL
	}
	if c.WebhookTimeout == 0 {
		c.WebhookTimeout = DefaultWebhookTimeout
	}
	if c.Users == nil {
		c.Users = DefaultUsers()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem of the configuration (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := checkURL(c.Issuer, false); err != nil {
		errs = append(errs, fmt.Errorf("devidp: issuer: %w", err))
	}
	if len(c.RedirectURIs) == 0 {
		errs = append(errs, errors.New("devidp: redirect URIs: at least one is required"))
	}
	for _, u := range c.RedirectURIs {
		if err := checkURL(u, true); err != nil {
			errs = append(errs, fmt.Errorf("devidp: redirect URI: %w", err))
		}
	}
	for _, u := range c.LogoutURIs {
		if err := checkURL(u, true); err != nil {
			errs = append(errs, fmt.Errorf("devidp: logout URI: %w", err))
		}
	}
	for name, d := range map[string]time.Duration{
		"access token TTL": c.AccessTokenTTL, "refresh token TTL": c.RefreshTokenTTL,
		"code TTL": c.CodeTTL, "SSO TTL": c.SSOTTL,
	} {
		if d < time.Second {
			errs = append(errs, fmt.Errorf("devidp: %s: %v is shorter than 1s", name, d))
		}
	}
	if c.WebhookURL != "" {
		if err := checkURL(c.WebhookURL, true); err != nil {
			errs = append(errs, fmt.Errorf("devidp: webhook URL: %w", err))
		}
	}
	if c.SigningKey != nil && c.SigningKey.N.BitLen() < 2048 {
		errs = append(errs, errors.New("devidp: signing key: RSA keys must have at least 2048 bits"))
	}
	if err := validateUsers(c.Users); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkURL accepts absolute http(s) URLs without fragment (and, for the issuer, without query).
func checkURL(raw string, allowQuery bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: scheme must be http or https", raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q: host is missing", raw)
	case u.User != nil:
		return fmt.Errorf("%q: user info is not allowed", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%q: fragment is not allowed", raw)
	case !allowQuery && (u.RawQuery != "" || strings.Contains(raw, "?")):
		return fmt.Errorf("%q: query is not allowed", raw)
	}
	return nil
}

// LogValue keeps the client secret and the key out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", c.Issuer),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", "[redacted]"),
		slog.String("tenant_id", c.TenantID),
		slog.Any("redirect_uris", c.RedirectURIs),
		slog.Any("logout_uris", c.LogoutURIs),
		slog.Duration("access_token_ttl", c.AccessTokenTTL),
		slog.Bool("rotate_refresh_tokens", c.RotateRefreshTokens),
		slog.Bool("pkce_optional", c.PKCEOptional),
		slog.Int("users", len(c.Users)),
		slog.String("webhook_url", c.WebhookURL),
		slog.Bool("admin_api", c.APIKey != ""),
	)
}
