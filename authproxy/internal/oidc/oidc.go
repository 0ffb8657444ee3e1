// Package oidc is authproxy's OpenID Connect client, written for FusionAuth
// and any provider that follows the specifications: discovery (cached,
// retried in the background until it loads), the authorization code flow
// with PKCE S256, state and nonce, the code exchange, id_token and access
// token verification (through services/shared/jwtauth, over the discovered JWKS,
// with every asymmetric algorithm the JWKS keys declare, a refetch when a
// token names a key not seen yet, and a single key without kid), refresh with
// rotated refresh tokens, userinfo for a missing name or email, and the
// RP-initiated logout URL.
//
// Roles are taken only from a verified JWT access token. By default they are
// FusionAuth's: the roles claim, counted only when applicationId is our
// client id (FusionAuth sets roles for users registered to the application).
// Config.RolesClaim names another claim or a dotted path into nested objects
// (groups, realm_access.roles). Neither the id_token nor userinfo is ever
// trusted for roles. A provider with opaque access tokens
// (Config.OpaqueAccessTokens) logs users in by their id_token; they hold no
// roles.
package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// DefaultScopes are requested at login unless Config.Scopes says otherwise:
// an id_token and a refresh token.
var DefaultScopes = []string{"openid", "offline_access"}

// DefaultRolesClaim is FusionAuth's roles claim; with it, roles count only
// when the access token's applicationId is the client id.
const DefaultRolesClaim = "roles"

// DefaultJWKSRefetch is the least time between two JWKS refetches that a
// token signed with an unknown key triggers (see Config.JWKSRefetch).
const DefaultJWKSRefetch = 2 * time.Second

// unknownKeyRetries bounds how often a token signed with a key the JWKS
// does not hold yet is verified again, one refetch interval apart.
const unknownKeyRetries = 3

// Sentinel errors; every error this package returns wraps one of them.
var (
	// ErrNotReady: discovery has not loaded yet.
	ErrNotReady = errors.New("oidc: discovery not loaded")
	// ErrDiscovery: the discovery document could not be fetched or is invalid.
	ErrDiscovery = errors.New("oidc: discovery failed")
	// ErrExchange: the token endpoint refused the code or failed.
	ErrExchange = errors.New("oidc: code exchange failed")
	// ErrInvalidGrant: the token endpoint refused the grant for good: any
	// 4xx error answer but 408 and 429, whatever its error code
	// (invalid_grant for an expired, used or revoked code or refresh token,
	// invalid_client, unauthorized_client, ...). For a refresh this ends the
	// session and the user logs in again.
	ErrInvalidGrant = errors.New("oidc: grant refused")
	// ErrRefresh: a refresh failed for a transient reason (network, timeout,
	// 5xx, 429, 408, an answer signed with a key the JWKS does not show
	// yet); the session stays and the refresh is tried again later. A
	// refresh answer that is not an access token for this application wraps
	// ErrAccessToken.
	ErrRefresh = errors.New("oidc: refresh failed")
	// ErrIDToken: the id_token is missing or fails verification.
	ErrIDToken = errors.New("oidc: invalid id_token")
	// ErrNonce: the id_token's nonce is not the one sent at login.
	ErrNonce = errors.New("oidc: nonce mismatch")
	// ErrAccessToken: an access token fails verification or is not an
	// access token for this application.
	ErrAccessToken = errors.New("oidc: invalid access token")
)

// Config configures a Provider.
type Config struct {
	// URL is FusionAuth's base URL; discovery is at URL/.well-known/openid-configuration.
	URL string
	// Issuer pins the expected issuer; "" accepts the discovered one.
	Issuer string
	// ClientID is the FusionAuth application id (client_id and aud).
	ClientID string
	// ClientSecret authenticates authproxy at the token endpoint.
	ClientSecret string
	// RedirectURL is authproxy's callback URL.
	RedirectURL string
	// HTTPClient talks to FusionAuth; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives discovery progress; nil discards.
	Logger *slog.Logger
	// Now is the clock for token checks; nil means time.Now.
	Now func() time.Time
	// RetryInterval is the first delay between discovery attempts (doubling
	// up to 30 s); 0 means 500 ms.
	RetryInterval time.Duration
	// Scopes are requested at login; nil means DefaultScopes. openid is
	// always added.
	Scopes []string
	// RolesClaim is the access-token claim holding the roles, a dotted path
	// for nested objects (realm_access.roles); "" means DefaultRolesClaim
	// with FusionAuth's applicationId check.
	RolesClaim string
	// OpaqueAccessTokens says the provider's access tokens are not JWTs:
	// they are kept and forwarded to nobody, the user comes from the
	// id_token (and userinfo), the expiry from expires_in, and no roles are
	// granted.
	OpaqueAccessTokens bool
	// JWKSRefetch is the least time between JWKS refetches triggered by an
	// unknown key; 0 means DefaultJWKSRefetch.
	JWKSRefetch time.Duration
	// LogoutAPI lets RevokeRefreshToken use FusionAuth's Logout API
	// (POST /api/logout beside /oauth2/token) when the provider announces
	// no revocation_endpoint and its token endpoint ends in /oauth2/token.
	LogoutAPI bool
}

// Tokens is the result of a code exchange or a refresh. Access holds the
// verified access token's claims (nil for opaque access tokens).
type Tokens struct {
	AccessToken  string
	RefreshToken string
	IDToken      string
	// Expiry is the access token's exp (for opaque tokens: expires_in).
	Expiry time.Time
	// Lifetime is how long the access token was issued for (exp - iat, or
	// expires_in); 0 when unknown.
	Lifetime time.Duration
	Access   *jwtauth.Claims
	// User is who the tokens belong to; nil when a refresh of opaque tokens
	// returned no id_token (the session's user stays).
	User *User
	// ProviderSession is the verified id_token's sid, the provider's login
	// session (named by back-channel logout tokens); "" without one.
	ProviderSession string
}

// User is who logged in, with the roles the access token grants here.
type User struct {
	ID       string
	Email    string
	Name     string
	TenantID string
	Roles    []string
	Branches []string
}

// discovered is the state that exists once discovery succeeded.
type discovered struct {
	issuer                          string
	endSession                      string // "" when the provider has no end_session_endpoint
	revocation                      string // "" when the provider has no revocation_endpoint
	logoutAPI                       string // FusionAuth's /api/logout; "" unless Config.LogoutAPI and no revocation
	backChannel, backChannelSession bool   // backchannel_logout_(session_)supported
	userinfo                        string
	oauth                           *oauth2.Config
	verifier                        *jwtauth.Verifier
}

// Provider is FusionAuth as seen by authproxy. It is safe for concurrent use.
type Provider struct {
	cfg  Config
	base context.Context // bounds background work (JWKS refresh)
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex // serialises Discover
	d    atomic.Pointer[discovered]
	// accessClaims are the id_token claims (nonce, at_hash, s_hash) that
	// token endpoint answers showed in this provider's access tokens (dex
	// puts nonce and at_hash in them); they no longer mark a bearer token as
	// an id_token. Only grows.
	accessMu     sync.Mutex
	accessClaims atomic.Pointer[[]string]
}

// New checks cfg and returns a Provider that has not discovered yet; call
// Discover or Start. ctx bounds the Provider's background work.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	var errs []error
	if cfg.URL == "" {
		errs = append(errs, errors.New("oidc: URL required"))
	}
	if cfg.ClientID == "" {
		errs = append(errs, errors.New("oidc: client id required"))
	}
	if cfg.RedirectURL == "" {
		errs = append(errs, errors.New("oidc: redirect URL required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 500 * time.Millisecond
	}
	if cfg.JWKSRefetch <= 0 {
		cfg.JWKSRefetch = DefaultJWKSRefetch
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = DefaultRolesClaim
	}
	cfg.Scopes = scopesWithOpenID(cfg.Scopes)
	return &Provider{cfg: cfg, base: ctx, log: cfg.Logger, now: cfg.Now}, nil
}

// Ready returns nil once discovery has loaded and the IdP's keys are known.
func (p *Provider) Ready() error {
	d := p.d.Load()
	if d == nil {
		return ErrNotReady
	}
	if err := d.verifier.Ready(); err != nil {
		return fmt.Errorf("%w: jwks: %w", ErrNotReady, err)
	}
	return nil
}

// Issuer returns the discovered issuer, or "" before discovery.
func (p *Provider) Issuer() string {
	if d := p.d.Load(); d != nil {
		return d.issuer
	}
	return ""
}

// Start runs discovery in the background, retrying with backoff until it
// succeeds or ctx ends. It returns at once.
func (p *Provider) Start(ctx context.Context) {
	go func() {
		delay := p.cfg.RetryInterval
		for {
			err := p.Discover(ctx)
			if err == nil {
				return
			}
			p.log.Warn("oidc discovery failed; retrying", slog.String("error", err.Error()), slog.Duration("retry_in", delay))
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(delay*2, 30*time.Second)
		}
	}()
}

// scopesWithOpenID returns scopes (DefaultScopes when empty) with openid
// first and no duplicates.
func scopesWithOpenID(scopes []string) []string {
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	out := []string{"openid"}
	for _, s := range scopes {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

type discoveryDoc struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	BackChannelLogout     bool     `json:"backchannel_logout_supported"`
	BackChannelSession    bool     `json:"backchannel_logout_session_supported"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
}

// Discover fetches the discovery document once (a no-op when already loaded)
// and prepares the OAuth client and token verifier.
func (p *Provider) Discover(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.d.Load() != nil {
		return nil
	}
	doc, err := p.fetchDiscovery(ctx)
	if err != nil {
		return err
	}
	// No fixed algorithm list: every asymmetric algorithm jwtauth knows,
	// each key bound to the one its JWK declares (or its type implies).
	// Discovery's id_token list is checked for a usable entry only.
	if len(doc.IDTokenAlgs) > 0 && !slices.ContainsFunc(doc.IDTokenAlgs, usableAlg) {
		p.log.Warn("oidc: the provider signs id_tokens with no algorithm authproxy accepts (asymmetric only)",
			slog.Any("id_token_signing_alg_values_supported", doc.IDTokenAlgs))
	}
	v, err := jwtauth.New(p.base, jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{{
			Issuer:      doc.Issuer,
			JWKSURL:     doc.JWKSURI,
			JWKSRefetch: p.cfg.JWKSRefetch,
		}},
		Audience:       p.cfg.ClientID,
		HTTPClient:     p.cfg.HTTPClient,
		Logger:         p.log,
		Now:            p.now,
		AcceptIDTokens: true, // this package tells them apart itself
	})
	if err != nil {
		return fmt.Errorf("%w: verifier: %w", ErrDiscovery, err)
	}
	style := oauth2.AuthStyleInHeader // client_secret_basic, the default of RFC 8414
	if len(doc.TokenAuthMethods) > 0 && !slices.Contains(doc.TokenAuthMethods, "client_secret_basic") &&
		slices.Contains(doc.TokenAuthMethods, "client_secret_post") {
		style = oauth2.AuthStyleInParams
	}
	p.d.Store(&discovered{
		issuer:      doc.Issuer,
		endSession:  doc.EndSessionEndpoint,
		revocation:  doc.RevocationEndpoint,
		logoutAPI:   p.logoutAPI(doc),
		backChannel: doc.BackChannelLogout, backChannelSession: doc.BackChannelSession,
		userinfo: doc.UserinfoEndpoint,
		verifier: v,
		oauth: &oauth2.Config{
			ClientID:     p.cfg.ClientID,
			ClientSecret: p.cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:   doc.AuthorizationEndpoint,
				TokenURL:  doc.TokenEndpoint,
				AuthStyle: style,
			},
			RedirectURL: p.cfg.RedirectURL,
			Scopes:      p.cfg.Scopes,
		},
	})
	p.log.Info("oidc discovery loaded", slog.String("issuer", doc.Issuer),
		slog.Bool("end_session_endpoint", doc.EndSessionEndpoint != ""), slog.Any("scopes", p.cfg.Scopes))
	return nil
}

func (p *Provider) fetchDiscovery(ctx context.Context) (*discoveryDoc, error) {
	u := p.cfg.URL + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %d", ErrDiscovery, u, resp.StatusCode)
	}
	var doc discoveryDoc
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: decode: %w", ErrDiscovery, err)
	}
	var errs []error
	if doc.Issuer == "" {
		errs = append(errs, errors.New("issuer missing"))
	}
	if p.cfg.Issuer != "" && doc.Issuer != p.cfg.Issuer {
		errs = append(errs, fmt.Errorf("issuer %q is not the configured %q", doc.Issuer, p.cfg.Issuer))
	}
	for name, v := range map[string]string{"authorization_endpoint": doc.AuthorizationEndpoint, "token_endpoint": doc.TokenEndpoint, "jwks_uri": doc.JWKSURI} {
		if pu, err := url.Parse(v); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q is not an absolute URL", name, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
	}
	for name, v := range map[string]string{"end_session_endpoint": doc.EndSessionEndpoint, "userinfo_endpoint": doc.UserinfoEndpoint, "revocation_endpoint": doc.RevocationEndpoint} {
		if v == "" {
			continue
		}
		if pu, err := url.Parse(v); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			return nil, fmt.Errorf("%w: %s %q is not an absolute URL", ErrDiscovery, name, v)
		}
	}
	return &doc, nil
}

func (p *Provider) loaded() (*discovered, error) {
	d := p.d.Load()
	if d == nil {
		return nil, ErrNotReady
	}
	return d, nil
}

// AuthCodeURL is the IdP URL that starts a login: code flow with PKCE S256
// (challenge derived from pkceVerifier), state and nonce.
func (p *Provider) AuthCodeURL(state, nonce, pkceVerifier string) (string, error) {
	d, err := p.loaded()
	if err != nil {
		return "", err
	}
	return d.oauth.AuthCodeURL(state,
		oauth2.S256ChallengeOption(pkceVerifier),
		oauth2.SetAuthURLParam("nonce", nonce),
	), nil
}

// NewVerifier returns a fresh PKCE code verifier.
func NewVerifier() string { return oauth2.GenerateVerifier() }

func (p *Provider) clientCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.cfg.HTTPClient)
}

// Exchange redeems code with the PKCE verifier, verifies the id_token (iss,
// aud, exp, nonce) and the access token, and returns the tokens and the user.
// A name or email missing from the tokens is asked of userinfo.
func (p *Provider) Exchange(ctx context.Context, code, pkceVerifier, nonce string) (*Tokens, *User, error) {
	d, err := p.loaded()
	if err != nil {
		return nil, nil, err
	}
	tok, err := d.oauth.Exchange(p.clientCtx(ctx), code, oauth2.VerifierOption(pkceVerifier))
	if err != nil {
		return nil, nil, grantError(ErrExchange, err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	var id *jwtauth.Claims
	err = p.retryUnknownKey(ctx, func() error {
		var err error
		id, err = p.verifyIDToken(ctx, d, idToken, nonce)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	tokens, err := p.tokens(ctx, d, tok, id)
	if err != nil {
		return nil, nil, err
	}
	u := tokens.User
	if u.ID != id.Subject {
		return nil, nil, fmt.Errorf("%w: id_token and access token name different subjects", ErrIDToken)
	}
	if id.Email != "" {
		u.Email = id.Email
	}
	if id.Name != "" {
		u.Name = id.Name
	} else if u.Name == "" {
		u.Name = id.PreferredUsername
	}
	if u.Email == "" || u.Name == "" {
		p.fillFromUserinfo(ctx, d, tokens.AccessToken, u)
	}
	return tokens, u, nil
}

// retryUnknownKey runs verify, and again after a JWKS refetch interval while
// it fails only because the token names a key the JWKS does not show yet:
// a provider that rotates keys may sign with a new key a moment before
// every cache has seen it.
func (p *Provider) retryUnknownKey(ctx context.Context, verify func() error) error {
	err := verify()
	for i := 0; i < unknownKeyRetries && errors.Is(err, jwtauth.ErrUnknownKey); i++ {
		t := time.NewTimer(p.cfg.JWKSRefetch)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = verify()
	}
	return err
}

// VerifyIDToken verifies raw as an id_token for this client (signature, iss,
// aud = client id, exp) issued for nonce.
func (p *Provider) VerifyIDToken(ctx context.Context, raw, nonce string) (*jwtauth.Claims, error) {
	d, err := p.loaded()
	if err != nil {
		return nil, err
	}
	return p.verifyIDToken(ctx, d, raw, nonce)
}

func (p *Provider) verifyIDToken(ctx context.Context, d *discovered, raw, nonce string) (*jwtauth.Claims, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: missing", ErrIDToken)
	}
	c, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1 {
		return nil, ErrNonce
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no sub", ErrIDToken)
	}
	return c, nil
}

// VerifyAccessToken verifies raw, presented as a bearer token, as an access
// token for this application (signature, iss, aud = client id, exp) and
// returns its claims and user. An id_token is refused (see
// jwtauth.IDTokenReason: typ, at_hash/c_hash, nonce), so it cannot be
// replayed as a bearer token; a provider whose token endpoint answers
// showed access tokens with a nonce is not refused for the nonce alone.
func (p *Provider) VerifyAccessToken(ctx context.Context, raw string) (*jwtauth.Claims, *User, error) {
	d, err := p.loaded()
	if err != nil {
		return nil, nil, err
	}
	c, err := p.verifyAccess(ctx, d, raw)
	if err != nil {
		return nil, nil, err
	}
	if reason := jwtauth.IDTokenReason(raw, p.knownAccessClaims()...); reason != "" {
		return nil, nil, fmt.Errorf("%w: an id_token is not an access token (%s)", ErrAccessToken, reason)
	}
	u, err := p.userFromAccess(raw, c)
	if err != nil {
		return nil, nil, err
	}
	return c, u, nil
}

// verifyAccess checks signature, iss, aud and exp, and that sub and exp
// are present.
func (p *Provider) verifyAccess(ctx context.Context, d *discovered, raw string) (*jwtauth.Claims, error) {
	c, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAccessToken, err)
	}
	if c.Subject == "" || c.ExpiresAt == nil {
		return nil, fmt.Errorf("%w: sub and exp required", ErrAccessToken)
	}
	return c, nil
}

// claimBranches is the access token claim listing a branch manager's
// branches; the gateway token carries it on to inventory.
const claimBranches = "branches"

// userFromAccess builds the user from a verified access token: roles from
// the configured claim (see Config.RolesClaim). A branches claim that is not
// a list of ids makes the token invalid.
func (p *Provider) userFromAccess(raw string, c *jwtauth.Claims) (*User, error) {
	var branches jwtauth.StringList
	if _, err := c.Extra(claimBranches, &branches); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAccessToken, err)
	}
	u := &User{ID: c.Subject, Email: c.Email, Name: c.Name, TenantID: c.TenantID}
	if u.Name == "" {
		u.Name = c.PreferredUsername
	}
	if p.cfg.RolesClaim == DefaultRolesClaim {
		if c.ApplicationID == p.cfg.ClientID && slices.Contains(c.Audience, p.cfg.ClientID) {
			u.Roles = slices.Clone(c.Roles)
			u.Branches = branches
		}
		return u, nil
	}
	u.Roles = claimStrings(raw, p.cfg.RolesClaim)
	u.Branches = branches
	return u, nil
}

// claimStrings reads the string list (or single string) at a dotted path of
// the verified JWT raw's payload; nil when absent or of another type.
func claimStrings(raw, path string) []string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return nil
	}
	for _, name := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[name]
	}
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Refresh redeems refreshToken. The result carries the rotated refresh token
// when the IdP sent one, otherwise the old one (x/oauth2 keeps it). A
// definitive refusal (a 4xx error answer) wraps ErrInvalidGrant; an answer
// that is not a valid access token for this application wraps
// ErrAccessToken; transient failures wrap ErrRefresh. An answer signed with a
// key the JWKS does not show yet is verified again after a refetch, since a
// one-time-use refresh token is already spent.
func (p *Provider) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	d, err := p.loaded()
	if err != nil {
		return nil, err
	}
	if refreshToken == "" {
		return nil, fmt.Errorf("%w: no refresh token", ErrInvalidGrant)
	}
	tok, err := d.oauth.TokenSource(p.clientCtx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, grantError(ErrRefresh, err)
	}
	var id *jwtauth.Claims
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		// A refreshed id_token has no nonce (OIDC Core 12.2); it is used only
		// to name the user of opaque access tokens.
		err = p.retryUnknownKey(ctx, func() error {
			c, err := d.verifier.Verify(ctx, raw)
			id = c
			return err
		})
		if err != nil {
			if errors.Is(err, jwtauth.ErrUnknownKey) {
				return nil, fmt.Errorf("%w: id_token signed with an unknown key: %w", ErrRefresh, err)
			}
			return nil, fmt.Errorf("%w: refreshed id_token: %w", ErrAccessToken, err)
		}
	}
	tokens, err := p.tokens(ctx, d, tok, id)
	if errors.Is(err, jwtauth.ErrUnknownKey) {
		return nil, fmt.Errorf("%w: access token signed with an unknown key: %w", ErrRefresh, errors.Unwrap(err))
	}
	return tokens, err
}

// tokens checks a token endpoint answer: a JWT access token is verified
// (retried across a key rotation); an opaque one (Config.OpaqueAccessTokens)
// takes its expiry from expires_in and its user from the id_token.
func (p *Provider) tokens(ctx context.Context, d *discovered, tok *oauth2.Token, id *jwtauth.Claims) (*Tokens, error) {
	idToken, _ := tok.Extra("id_token").(string)
	t := &Tokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, IDToken: idToken}
	if id != nil {
		t.ProviderSession = id.SessionID
	}
	if tok.AccessToken == "" || tok.AccessToken == idToken {
		return nil, fmt.Errorf("%w: the token endpoint returned no access token of its own", ErrAccessToken)
	}
	if p.cfg.OpaqueAccessTokens {
		t.Expiry = tok.Expiry
		if t.Expiry.IsZero() {
			// No expires_in: treat the token as good for as long as the
			// id_token, or a minute when there is none.
			t.Expiry = p.now().Add(time.Minute)
			if id != nil && id.ExpiresAt != nil {
				t.Expiry = id.ExpiresAt.Time
			}
		}
		t.Lifetime = t.Expiry.Sub(p.now())
		if id != nil {
			t.User = &User{ID: id.Subject, Email: id.Email, Name: id.Name, TenantID: id.TenantID}
			if t.User.Name == "" {
				t.User.Name = id.PreferredUsername
			}
		}
		return t, nil
	}
	if strings.Count(tok.AccessToken, ".") != 2 {
		return nil, fmt.Errorf("%w: the provider issued an opaque access token; configure it with oidc-access-token-format=opaque", ErrAccessToken)
	}
	var access *jwtauth.Claims
	err := p.retryUnknownKey(ctx, func() error {
		var err error
		access, err = p.verifyAccess(ctx, d, tok.AccessToken)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The token endpoint says which token is the access token: id_token
	// claims it carries anyway no longer mark this provider's id_tokens.
	p.learnAccessClaims(jwtauth.IDTokenClaims(tok.AccessToken))
	t.Access = access
	t.Expiry = access.ExpiresAt.Time
	if access.IssuedAt != nil {
		t.Lifetime = access.ExpiresAt.Sub(access.IssuedAt.Time)
	}
	if t.User, err = p.userFromAccess(tok.AccessToken, access); err != nil {
		return nil, err
	}
	return t, nil
}

func (p *Provider) knownAccessClaims() []string {
	if c := p.accessClaims.Load(); c != nil {
		return *c
	}
	return nil
}

// learnAccessClaims records id_token claims seen in an access token from
// the token endpoint, and says so once per claim: with at_hash among them,
// a refreshed id_token of this provider can no longer be told from an
// access token (only c_hash and typ still tell), which the operator should
// know.
func (p *Provider) learnAccessClaims(claims []string) {
	if len(claims) == 0 {
		return
	}
	p.accessMu.Lock()
	defer p.accessMu.Unlock()
	known := p.knownAccessClaims()
	next := slices.Clone(known)
	for _, c := range claims {
		if !slices.Contains(next, c) {
			next = append(next, c)
		}
	}
	if len(next) == len(known) {
		return
	}
	p.accessClaims.Store(&next)
	p.log.Warn("oidc: this provider's access tokens carry id_token claims (no typ at+jwt); bearer id_tokens are now told apart by c_hash and typ only",
		slog.Any("claims", next))
}

// fillFromUserinfo asks the userinfo endpoint for the email and name the
// tokens lack. Failures are logged and ignored: they cost only display data.
// The answer counts only for the same subject, and never for roles.
func (p *Provider) fillFromUserinfo(ctx context.Context, d *discovered, accessToken string, u *User) {
	if d.userinfo == "" {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.userinfo, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		p.log.Warn("oidc: userinfo failed", slog.String("error", err.Error()))
		return
	}
	defer resp.Body.Close()
	var info struct {
		Sub               string `json:"sub"`
		Email             string `json:"email"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		p.log.Warn("oidc: userinfo answered no JSON", slog.Int("status", resp.StatusCode))
		return
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info); err != nil || info.Sub != u.ID {
		p.log.Warn("oidc: userinfo answer unusable (undecodable or another subject)")
		return
	}
	if u.Email == "" {
		u.Email = info.Email
	}
	if u.Name == "" {
		u.Name = info.Name
	}
	if u.Name == "" {
		u.Name = info.PreferredUsername
	}
}

// grantError maps an oauth2 error. Any 4xx error answer but 408 and 429 is
// a definitive refusal (ErrInvalidGrant), whatever its error code; 5xx, 408,
// 429 and failures to reach the IdP wrap kind. The IdP's error code and
// description are kept for logs (they hold no secrets).
func grantError(kind error, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
			return fmt.Errorf("%w: status %d %s %s", ErrInvalidGrant, status, re.ErrorCode, re.ErrorDescription)
		}
		return fmt.Errorf("%w: status %d %s", kind, status, re.ErrorCode)
	}
	return fmt.Errorf("%w: %w", kind, err)
}

// LogoutURL is the provider's end_session_endpoint with client_id,
// id_token_hint (FusionAuth accepts an expired one) and
// post_logout_redirect_uri (OpenID Connect RP-Initiated Logout 1.0). ok is
// false when the provider announced no end_session_endpoint: the caller
// then logs out locally only.
func (p *Provider) LogoutURL(idTokenHint, postLogoutRedirect string) (string, bool) {
	d := p.d.Load()
	if d == nil || d.endSession == "" {
		return "", false
	}
	q := url.Values{"client_id": {p.cfg.ClientID}}
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	if postLogoutRedirect != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirect)
	}
	sep := "?"
	if strings.Contains(d.endSession, "?") {
		sep = "&"
	}
	return d.endSession + sep + q.Encode(), true
}

// usableAlg: an algorithm jwtauth verifies from a JWKS (asymmetric).
func usableAlg(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}

// SigningKey returns the provider's public key for kid and alg from its
// JWKS (refetched at most once per refetch interval for an unknown kid),
// for verifying what the provider signs besides tokens: FusionAuth's
// webhook signature JWTs. The key is bound to alg.
func (p *Provider) SigningKey(ctx context.Context, kid, alg string) (any, error) {
	d, err := p.loaded()
	if err != nil {
		return nil, err
	}
	k, err := d.verifier.Key(ctx, d.issuer, kid, alg)
	if err != nil {
		return nil, fmt.Errorf("oidc: signing key: %w", err)
	}
	return k, nil
}
