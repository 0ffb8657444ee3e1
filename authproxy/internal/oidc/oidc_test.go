package oidc

import (
	"context"
	"crypto/rsa"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/hack/testkit/devlogin"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

const (
	redirectURL = "http://127.0.0.1:4180/oauth2/callback"
	adminID     = "2a7f6c43-5d0e-4b6a-9c31-0f1e2d3c4b5a"
	outsiderID  = "9b3c5d7e-1f2a-4b4c-8d6e-f0a1b2c3d4e5"
)

// startIDP runs devidp on 127.0.0.1 and returns it with its URL.
func startIDP(t *testing.T, mutate func(*devidp.Config)) (*devidp.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := devidp.Config{Issuer: base, RedirectURIs: []string{redirectURL}}
	if mutate != nil {
		mutate(&cfg)
	}
	idp, err := devidp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(idp.Handler())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return idp, base
}

func newProvider(t *testing.T, base string, mutate func(*Config)) *Provider {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := Config{URL: base, ClientID: devidp.DefaultClientID, ClientSecret: devidp.DefaultClientSecret, RedirectURL: redirectURL, RetryInterval: 10 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func discoveredProvider(t *testing.T, base string) *Provider {
	t.Helper()
	p := newProvider(t, base, nil)
	if err := p.Discover(context.Background()); err != nil {
		t.Fatalf("Discover: %v", err)
	}
	waitReady(t, p)
	return p
}

func waitReady(t *testing.T, p *Provider) {
	t.Helper()
	testkit.WaitUntil(t, "the provider to be ready", testkit.WaitTimeout, func(context.Context) error { return p.Ready() })
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// login drives devidp's login form for the authorization URL and returns the
// code and state from the redirect back to the client.
func login(t *testing.T, authURL, email string) (code, state string) {
	t.Helper()
	resp, body, err := devlogin.Login(t.Context(), noRedirect, authURL, email)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: status %d\n%s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

func TestAuthCodeURL(t *testing.T) {
	t.Parallel()
	_, base := startIDP(t, nil)
	p := discoveredProvider(t, base)
	verifier := NewVerifier()
	raw, err := p.AuthCodeURL("st", "nc", verifier)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	want := map[string]string{
		"client_id": devidp.DefaultClientID, "redirect_uri": redirectURL, "response_type": "code",
		"scope": "openid offline_access", "state": "st", "nonce": "nc", "code_challenge_method": "S256",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if q.Get("code_challenge") == "" || q.Get("code_challenge") == verifier {
		t.Errorf("code_challenge %q must be the S256 of the verifier", q.Get("code_challenge"))
	}
	if !strings.HasPrefix(raw, base+"/oauth2/authorize?") {
		t.Errorf("auth URL %q not at the discovered endpoint", raw)
	}
}

func TestExchange(t *testing.T) {
	t.Parallel()
	_, base := startIDP(t, nil)
	p := discoveredProvider(t, base)
	tests := []struct {
		name      string
		email     string
		wantRoles []string
		wantName  string
	}{
		{name: "admin gets roles", email: "admin@example.com", wantRoles: []string{"admin"}, wantName: "Ada Admin"},
		{name: "manager gets branches", email: "manager@example.com", wantRoles: []string{"branch-manager"}, wantName: "Max Manager"},
		{name: "outsider gets no roles", email: "outsider@example.com", wantRoles: nil, wantName: "Otto Outsider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			verifier := NewVerifier()
			authURL, _ := p.AuthCodeURL("state", "nonce-1", verifier)
			code, _ := login(t, authURL, tt.email)
			tokens, user, err := p.Exchange(context.Background(), code, verifier, "nonce-1")
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tokens.RefreshToken == "" || tokens.AccessToken == "" || tokens.IDToken == "" {
				t.Errorf("missing tokens")
			}
			if !tokens.Expiry.After(time.Now()) {
				t.Errorf("expiry %v not in the future", tokens.Expiry)
			}
			if strings.Join(user.Roles, ",") != strings.Join(tt.wantRoles, ",") || user.Name != tt.wantName || user.Email != tt.email {
				t.Errorf("user = %+v", user)
			}
			if _, _, err := p.VerifyAccessToken(context.Background(), tokens.AccessToken); err != nil {
				t.Errorf("access token does not verify: %v", err)
			}
			// An id_token is not an access token.
			if _, _, err := p.VerifyAccessToken(context.Background(), tokens.IDToken); !errors.Is(err, ErrAccessToken) {
				t.Errorf("id_token accepted as access token: %v", err)
			}
		})
	}
}

func TestExchangeAttacks(t *testing.T) {
	t.Parallel()
	_, base := startIDP(t, nil)
	p := discoveredProvider(t, base)
	tests := []struct {
		name    string
		run     func(code, verifier string) error
		wantErr error
	}{
		{
			name: "PKCE verifier mismatch",
			run: func(code, _ string) error {
				_, _, err := p.Exchange(context.Background(), code, NewVerifier(), "n")
				return err
			},
			wantErr: ErrInvalidGrant,
		},
		{
			name: "nonce mismatch",
			run: func(code, v string) error {
				_, _, err := p.Exchange(context.Background(), code, v, "other")
				return err
			},
			wantErr: ErrNonce,
		},
		{
			name: "code replay",
			run: func(code, v string) error {
				if _, _, err := p.Exchange(context.Background(), code, v, "n"); err != nil {
					return err
				}
				_, _, err := p.Exchange(context.Background(), code, v, "n")
				return err
			},
			wantErr: ErrInvalidGrant,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := NewVerifier()
			authURL, _ := p.AuthCodeURL("s", "n", v)
			code, _ := login(t, authURL, "customer@example.com")
			if err := tt.run(code, v); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rotate bool
	}{
		{name: "reusable refresh token", rotate: false},
		{name: "rotated refresh token", rotate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idp, base := startIDP(t, func(c *devidp.Config) { c.RotateRefreshTokens = tt.rotate })
			p := discoveredProvider(t, base)
			v := NewVerifier()
			authURL, _ := p.AuthCodeURL("s", "n", v)
			code, _ := login(t, authURL, "admin@example.com")
			first, _, err := p.Exchange(context.Background(), code, v, "n")
			if err != nil {
				t.Fatal(err)
			}
			second, err := p.Refresh(context.Background(), first.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if second.AccessToken == "" || second.Access.Subject != adminID {
				t.Errorf("refresh returned %+v", second.Access)
			}
			if rotated := second.RefreshToken != first.RefreshToken; rotated != tt.rotate {
				t.Errorf("rotated = %v, want %v", rotated, tt.rotate)
			}
			if tt.rotate {
				if _, err := p.Refresh(context.Background(), first.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
					t.Errorf("old rotated token still works: %v", err)
				}
			}
			idp.RevokeRefreshTokens(adminID)
			if _, err := p.Refresh(context.Background(), second.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
				t.Errorf("revoked refresh token: err = %v, want ErrInvalidGrant", err)
			}
		})
	}
}

func TestRefreshIdPDownIsNotInvalidGrant(t *testing.T) {
	t.Parallel()
	_, base := startIDP(t, nil)
	p := discoveredProvider(t, base)
	// Point the token endpoint at a closed port.
	d := *p.d.Load()
	oc := *d.oauth
	oc.Endpoint.TokenURL = "http://127.0.0.1:1/oauth2/token"
	d.oauth = &oc
	p.d.Store(&d)
	_, err := p.Refresh(context.Background(), "whatever")
	if !errors.Is(err, ErrRefresh) || errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("err = %v, want ErrRefresh only", err)
	}
}

func TestDiscoveryRetriedInBackground(t *testing.T) {
	t.Parallel()
	idp, _ := startIDP(t, nil)
	var fails atomic.Int32
	fails.Store(3)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" && fails.Add(-1) >= 0 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		idp.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(flaky.Close)
	p := newProvider(t, idp.Issuer(), nil)
	p.cfg.URL = flaky.URL // discovery through the flaky front
	if err := p.Ready(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Ready before discovery = %v", err)
	}
	if _, err := p.AuthCodeURL("s", "n", NewVerifier()); !errors.Is(err, ErrNotReady) {
		t.Fatalf("AuthCodeURL before discovery = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.Start(ctx)
	waitReady(t, p)
	if fails.Load() >= 0 {
		t.Errorf("discovery loaded without retrying")
	}
}

func TestDiscoveryIssuerPin(t *testing.T) {
	t.Parallel()
	_, base := startIDP(t, nil)
	p := newProvider(t, base, func(c *Config) { c.Issuer = "https://other.example" })
	if err := p.Discover(context.Background()); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("pinned issuer mismatch: err = %v", err)
	}
	p = newProvider(t, base, func(c *Config) { c.Issuer = base })
	if err := p.Discover(context.Background()); err != nil {
		t.Fatalf("pinned issuer match: %v", err)
	}
}

func TestLogoutURL(t *testing.T) {
	t.Parallel()
	_, base := startIDP(t, nil)
	p := discoveredProvider(t, base)
	got, ok := p.LogoutURL("id.token.hint", "http://127.0.0.1:4180/")
	want := base + "/oauth2/logout?client_id=" + devidp.DefaultClientID + "&id_token_hint=id.token.hint&post_logout_redirect_uri=" + url.QueryEscape("http://127.0.0.1:4180/")
	if got != want || !ok {
		t.Errorf("LogoutURL = %q, %v, want %q", got, ok, want)
	}
}

// TestSigningKey: the provider hands out its published key by kid and alg
// (the webhook's signature check), not before discovery, and never under
// another algorithm.
func TestSigningKey(t *testing.T) {
	t.Parallel()
	idp, base := startIDP(t, nil)
	p := newProvider(t, base, nil)
	if _, err := p.SigningKey(context.Background(), idp.KeyID(), "RS256"); !errors.Is(err, ErrNotReady) {
		t.Fatalf("SigningKey before discovery: %v, want ErrNotReady", err)
	}
	if err := p.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitReady(t, p)
	k, err := p.SigningKey(context.Background(), idp.KeyID(), "RS256")
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := k.(*rsa.PublicKey); !ok || !pub.Equal(idp.PublicKey()) {
		t.Fatalf("SigningKey = %T, want the IdP's RSA key", k)
	}
	if _, err := p.SigningKey(context.Background(), idp.KeyID(), "HS256"); !errors.Is(err, jwtauth.ErrUnknownKey) {
		t.Fatalf("SigningKey under HS256: %v, want ErrUnknownKey", err)
	}
}
