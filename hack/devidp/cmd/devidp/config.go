package main

import (
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/services/shared/options"
)

// envPrefix prefixes the dev IdP's environment variables.
const envPrefix = "DEVIDP_"

// config is the binary's configuration: the fields of its option table.
type config struct {
	Listen              string
	Issuer              string
	UsersFile           string
	ClientID            string
	ClientSecret        options.Secret
	RedirectURIs        []string
	LogoutURIs          []string
	AccessTokenTTL      time.Duration
	RotateRefreshTokens bool
	WebhookURL          string
	APIKey              options.Secret
	LogLevel            slog.Level
	CheckConfig         bool

	users   []devidp.User // read from UsersFile; nil means the embedded users
	sources map[string]string
}

// options is the dev IdP's option table, bound to c's fields.
func (c *config) options() options.Set {
	return options.Set{
		Program:   "devidp",
		EnvPrefix: envPrefix,
		Options: []options.Option{
			{Name: "listen", Default: "127.0.0.1:9011", Usage: "address to serve on", Value: options.String(&c.Listen)},
			{Name: "issuer", DocDefault: "`http://<listen>`", Usage: "issuer and base URL of every endpoint (a wildcard or empty listen host becomes localhost)", Value: options.String(&c.Issuer)},
			{Name: "users", DocDefault: "embedded", Usage: "users YAML (FusionAuth-like: `registration: {roles, data: {branches}}`)", Value: options.String(&c.UsersFile)},
			{Name: "client-id", Default: devidp.DefaultClientID, Usage: "application id (`client_id`, `aud`, `applicationId`)", Value: options.String(&c.ClientID)},
			{Name: "client-secret", Default: devidp.DefaultClientSecret, Usage: "client secret of the application", Value: options.SecretString(&c.ClientSecret)},
			{Name: "redirect-uris", Default: "http://localhost:8000/oauth2/callback,http://localhost:4180/oauth2/callback,http://127.0.0.1:4180/oauth2/callback", DocDefault: "the local stack's callbacks", Usage: "authorised redirect URLs (exact match)", Value: options.Strings(&c.RedirectURIs)},
			{Name: "logout-uris", Default: "http://localhost:8000/,http://localhost:4180/,http://127.0.0.1:4180/", DocDefault: "the local stack's pages", Usage: "authorised post-logout URLs; the first is the default", Value: options.Strings(&c.LogoutURIs)},
			{Name: "access-token-ttl", Default: devidp.DefaultAccessTokenTTL.String(), Usage: "access and id token lifetime", Value: options.Duration(&c.AccessTokenTTL)},
			{Name: "rotate-refresh-tokens", Default: "false", Usage: `rotate refresh tokens on use (FusionAuth's "OneTimeUse" policy)`, Value: options.Bool(&c.RotateRefreshTokens)},
			{Name: "webhook-url", Usage: "where FusionAuth's signed webhook events go (`jwt.refresh-token.revoke`, `user.deactivate`, `user.delete`), e.g. authproxy's `/webhooks/fusionauth`; empty sends none", Value: options.String(&c.WebhookURL)},
			{Name: "api-key", Usage: "serves the admin API (`DELETE /api/jwt/refresh?userId=`, `DELETE /api/user/<id>[?hardDelete=true]`) to requests with this `Authorization` header; empty serves none", Value: options.SecretString(&c.APIKey)},
			{Name: "log-level", Default: "info", Usage: "debug, info, warn or error", Value: options.Level(&c.LogLevel)},
		},
	}
}

// loadConfig reads the flags and DEVIDP_ variables, the users file, and
// checks the result as devidp.New would, reporting every problem at once.
func loadConfig(args []string, getenv func(string) string, usage io.Writer) (*config, error) {
	c := &config{}
	loaded, err := c.options().Load(args, getenv, usage)
	if err != nil {
		return nil, err
	}
	c.CheckConfig, c.sources = loaded.CheckConfig, loaded.Sources
	errs := loaded.Problems
	if c.Issuer == "" {
		c.Issuer = defaultIssuer(c.Listen)
		c.sources["issuer"] = "from --listen"
	}
	if c.UsersFile != "" {
		users, err := devidp.LoadUsers(c.UsersFile)
		if err != nil {
			errs = append(errs, &options.Problem{Option: "users", Source: c.sources["users"], Err: err})
		}
		c.users = users
	}
	if err := c.idp(nil).Validate(); err != nil {
		errs = append(errs, options.Problemf("%w", err))
	}
	return c, options.Invalid(errs...)
}

// idp is the dev IdP's library configuration.
func (c *config) idp(logger *slog.Logger) devidp.Config {
	return devidp.Config{
		Issuer:              c.Issuer,
		ClientID:            c.ClientID,
		ClientSecret:        c.ClientSecret.Reveal(),
		RedirectURIs:        c.RedirectURIs,
		LogoutURIs:          c.LogoutURIs,
		AccessTokenTTL:      c.AccessTokenTTL,
		RotateRefreshTokens: c.RotateRefreshTokens,
		WebhookURL:          c.WebhookURL,
		APIKey:              c.APIKey.Reveal(),
		Users:               c.users,
		Logger:              logger,
	}
}

// LogValue implements slog.LogValuer from the option table, secrets redacted.
func (c *config) LogValue() slog.Value { return c.options().LogValue() }

// Summary is the effective configuration for --check-config.
func (c *config) Summary() string { return c.options().Summary(c.sources) }

// CheckOnly reports whether --check-config was given.
func (c *config) CheckOnly() bool { return c.CheckConfig }

// defaultIssuer is http://<listen>, with localhost for an empty or wildcard host.
func defaultIssuer(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
