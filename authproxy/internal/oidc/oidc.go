// Package oidc is authproxy's client of FusionAuth's OpenID Connect
// endpoints: discovery (cached, retried in the background until it loads),
// the authorization code flow with PKCE S256, state and nonce, the code
// exchange, id_token and access token verification (through
// services/jwtauth, over the discovered JWKS), refresh with rotated refresh
// tokens, and the logout URL.
//
// Roles are taken only from a verified access token, and only when its
// applicationId is our client id: FusionAuth sets roles for users registered
// to the application, and neither the id_token nor userinfo is trusted for
// them.
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

	"github.com/gatewarden/gatewarden/services/jwtauth"
)

// Scopes requested at login: an id_token and a refresh token.
var scopes = []string{"openid", "offline_access"}

// Sentinel errors; every error this package returns wraps one of them.
var (
	// ErrNotReady: discovery has not loaded yet.
	ErrNotReady = errors.New("oidc: discovery not loaded")
	// ErrDiscovery: the discovery document could not be fetched or is invalid.
	ErrDiscovery = errors.New("oidc: discovery failed")
	// ErrExchange: the token endpoint refused the code or failed.
	ErrExchange = errors.New("oidc: code exchange failed")
	// ErrInvalidGrant: the IdP answered invalid_grant (code or refresh token
	// expired, used or revoked). For a refresh this ends the session.
	ErrInvalidGrant = errors.New("oidc: invalid grant")
	// ErrRefresh: a refresh failed for another reason (the IdP is down, its
	// answer is signed with a key not yet in its JWKS, ...); the session
	// stays and the refresh is tried again later. A refresh answer that is
	// not an access token for this application wraps ErrAccessToken.
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
}

// Tokens is the result of a code exchange or a refresh. Access holds the
// verified access token's claims.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	IDToken      string
	// Expiry is the access token's exp.
	Expiry time.Time
	Access *jwtauth.Claims
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
	issuer     string
	endSession string
	oauth      *oauth2.Config
	verifier   *jwtauth.Verifier
}

// Provider is FusionAuth as seen by authproxy. It is safe for concurrent use.
type Provider struct {
	cfg  Config
	base context.Context // bounds background work (JWKS refresh)
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex // serialises Discover
	d    atomic.Pointer[discovered]
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

type discoveryDoc struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
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
	v, err := jwtauth.New(p.base, jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{{
			Issuer:     doc.Issuer,
			JWKSURL:    doc.JWKSURI,
			Algorithms: []string{"RS256", "ES256", "EdDSA"},
		}},
		Audience:   p.cfg.ClientID,
		HTTPClient: p.cfg.HTTPClient,
		Logger:     p.log,
		Now:        p.now,
	})
	if err != nil {
		return fmt.Errorf("%w: verifier: %w", ErrDiscovery, err)
	}
	p.d.Store(&discovered{
		issuer:     doc.Issuer,
		endSession: doc.EndSessionEndpoint,
		verifier:   v,
		oauth: &oauth2.Config{
			ClientID:     p.cfg.ClientID,
			ClientSecret: p.cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:   doc.AuthorizationEndpoint,
				TokenURL:  doc.TokenEndpoint,
				AuthStyle: oauth2.AuthStyleInHeader,
			},
			RedirectURL: p.cfg.RedirectURL,
			Scopes:      scopes,
		},
	})
	p.log.Info("oidc discovery loaded", slog.String("issuer", doc.Issuer))
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
	if doc.EndSessionEndpoint == "" {
		doc.EndSessionEndpoint = p.cfg.URL + "/oauth2/logout"
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
func (p *Provider) Exchange(ctx context.Context, code, pkceVerifier, nonce string) (*Tokens, *User, error) {
	d, err := p.loaded()
	if err != nil {
		return nil, nil, err
	}
	tok, err := d.oauth.Exchange(p.clientCtx(ctx), code, oauth2.VerifierOption(pkceVerifier))
	if err != nil {
		return nil, nil, grantError(ErrExchange, err)
	}
	tokens, err := p.tokens(ctx, d, tok)
	if err != nil {
		return nil, nil, err
	}
	id, err := p.VerifyIDToken(ctx, tokens.IDToken, nonce)
	if err != nil {
		return nil, nil, err
	}
	if id.Subject != tokens.Access.Subject {
		return nil, nil, fmt.Errorf("%w: id_token and access token name different subjects", ErrIDToken)
	}
	u := p.UserFromAccess(tokens.Access)
	if id.Email != "" {
		u.Email = id.Email
	}
	if id.Name != "" {
		u.Name = id.Name
	}
	return tokens, u, nil
}

// VerifyIDToken verifies raw as an id_token for this client (signature, iss,
// aud = client id, exp) issued for nonce.
func (p *Provider) VerifyIDToken(ctx context.Context, raw, nonce string) (*jwtauth.Claims, error) {
	d, err := p.loaded()
	if err != nil {
		return nil, err
	}
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
	return c, nil
}

// VerifyAccessToken verifies raw as a FusionAuth access token for this
// application (signature, iss, aud = client id, exp). An id_token (it carries
// a nonce, at_hash or c_hash; one from a refresh has no nonce) is refused,
// so it cannot be replayed as a bearer token.
func (p *Provider) VerifyAccessToken(ctx context.Context, raw string) (*jwtauth.Claims, error) {
	d, err := p.loaded()
	if err != nil {
		return nil, err
	}
	return p.verifyAccess(ctx, d, raw)
}

func (p *Provider) verifyAccess(ctx context.Context, d *discovered, raw string) (*jwtauth.Claims, error) {
	c, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAccessToken, err)
	}
	if c.Nonce != "" || hasIDTokenClaims(raw) {
		return nil, fmt.Errorf("%w: an id_token is not an access token", ErrAccessToken)
	}
	if c.Subject == "" || c.ExpiresAt == nil {
		return nil, fmt.Errorf("%w: sub and exp required", ErrAccessToken)
	}
	return c, nil
}

// hasIDTokenClaims reports whether the (already verified) JWT raw carries a
// claim only id_tokens have: at_hash or c_hash (OIDC Core 3.1.3.6, 3.3.2.11).
// FusionAuth puts at_hash in every id_token, including those a refresh
// returns without a nonce. An unreadable payload counts as an id_token.
func hasIDTokenClaims(raw string) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return true
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return true
	}
	var c struct {
		AtHash *json.RawMessage `json:"at_hash"`
		CHash  *json.RawMessage `json:"c_hash"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return true
	}
	return c.AtHash != nil || c.CHash != nil
}

// UserFromAccess builds the user from verified access token claims. Roles
// and branches count only when the token's applicationId is our client id
// (the user is registered to the application).
func (p *Provider) UserFromAccess(c *jwtauth.Claims) *User {
	u := &User{ID: c.Subject, Email: c.Email, Name: c.Name, TenantID: c.TenantID}
	if u.Name == "" {
		u.Name = c.PreferredUsername
	}
	if c.ApplicationID == p.cfg.ClientID && slices.Contains(c.Audience, p.cfg.ClientID) {
		u.Roles = slices.Clone(c.Roles)
		u.Branches = slices.Clone([]string(c.Branches))
	}
	return u
}

// Refresh redeems refreshToken. The result carries the rotated refresh token
// when the IdP sent one, otherwise the old one (x/oauth2 keeps it).
// invalid_grant wraps ErrInvalidGrant; an answer that is not a valid access
// token for this application wraps ErrAccessToken; other failures wrap
// ErrRefresh.
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
	tokens, err := p.tokens(ctx, d, tok)
	if errors.Is(err, jwtauth.ErrUnknownKey) {
		// The IdP may have rotated its key before our JWKS caught up:
		// transient, unlike an answer whose claims are wrong.
		return nil, fmt.Errorf("%w: access token signed with an unknown key: %w", ErrRefresh, errors.Unwrap(err))
	}
	return tokens, err
}

func (p *Provider) tokens(ctx context.Context, d *discovered, tok *oauth2.Token) (*Tokens, error) {
	access, err := p.verifyAccess(ctx, d, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	idToken, _ := tok.Extra("id_token").(string)
	return &Tokens{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		IDToken:      idToken,
		Expiry:       access.ExpiresAt.Time,
		Access:       access,
	}, nil
}

// grantError maps an oauth2 error: invalid_grant => ErrInvalidGrant, else
// kind. The IdP's error description is kept for logs (it holds no secrets).
func grantError(kind error, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode == "invalid_grant" {
			return fmt.Errorf("%w: %s", ErrInvalidGrant, re.ErrorDescription)
		}
		return fmt.Errorf("%w: status %d %s", kind, re.Response.StatusCode, re.ErrorCode)
	}
	return fmt.Errorf("%w: %w", kind, err)
}

// LogoutURL is the IdP's logout endpoint with client_id and
// post_logout_redirect_uri.
func (p *Provider) LogoutURL(postLogoutRedirect string) string {
	end := p.cfg.URL + "/oauth2/logout"
	if d := p.d.Load(); d != nil {
		end = d.endSession
	}
	q := url.Values{"client_id": {p.cfg.ClientID}}
	if postLogoutRedirect != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirect)
	}
	sep := "?"
	if strings.Contains(end, "?") {
		sep = "&"
	}
	return end + sep + q.Encode()
}
