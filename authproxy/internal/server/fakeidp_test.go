package server

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// fakeProvider is a Provider without an identity provider behind it: it
// knows the access tokens it issued (env.sessionFor) and refuses every
// other bearer token as oidc.Provider does (wrapping oidc.ErrAccessToken).
// It has no login flow and no refresh: tests of those use the dev IdP.
type fakeProvider struct {
	now func() time.Time

	mu     sync.Mutex
	access map[string]*oidc.User // access token -> its user
}

var _ Provider = (*fakeProvider)(nil)

func newFakeProvider(now func() time.Time) *fakeProvider {
	if now == nil {
		now = time.Now
	}
	return &fakeProvider{now: now, access: map[string]*oidc.User{}}
}

func (f *fakeProvider) Ready() error { return nil }

// AuthCodeURL names a provider that is never reached: the login starts,
// and goes no further.
func (f *fakeProvider) AuthCodeURL(state, nonce, _ string) (string, error) {
	return "https://idp.invalid/oauth2/authorize?" + url.Values{"state": {state}, "nonce": {nonce}}.Encode(), nil
}

func (f *fakeProvider) Exchange(context.Context, string, string, string) (*oidc.Tokens, *oidc.User, error) {
	return nil, nil, fmt.Errorf("%w: the fake provider has no login flow", oidc.ErrExchange)
}

func (f *fakeProvider) Refresh(context.Context, string) (*oidc.Tokens, error) {
	return nil, fmt.Errorf("%w: the fake provider does not refresh", oidc.ErrRefresh)
}

func (f *fakeProvider) VerifyAccessToken(_ context.Context, raw string) (*jwtauth.Claims, *oidc.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.access[raw]
	if !ok {
		return nil, nil, fmt.Errorf("%w: not an access token of the fake provider", oidc.ErrAccessToken)
	}
	c := *u
	c.Roles, c.Branches = slices.Clone(u.Roles), slices.Clone(u.Branches)
	return &jwtauth.Claims{Subject: u.ID, Roles: c.Roles, TenantID: u.TenantID}, &c, nil
}

func (f *fakeProvider) LogoutURL(string, string) (string, bool) { return "", false }

func (f *fakeProvider) RevokeRefreshToken(context.Context, string) (bool, error) { return false, nil }

// fakeToken is a new token shaped as a compact JWS (three base64url
// segments), as a bearer token must be; kind names what it stands for.
func fakeToken(kind string) string { return "fake." + randomString() + "." + kind }

// issue returns a new access token for u.
func (f *fakeProvider) issue(u *oidc.User) string {
	tok := fakeToken("at")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.access[tok] = u
	return tok
}

// devUser is the dev IdP's default user with this email, as the provider
// reports users: roles and branches of the application registration.
func devUser(t testing.TB, email string) *oidc.User {
	t.Helper()
	for _, u := range devidp.DefaultUsers() {
		if !strings.EqualFold(u.Email, email) {
			continue
		}
		out := &oidc.User{ID: u.ID, Email: u.Email, Name: u.Name, TenantID: devidp.DefaultTenantID}
		if u.Registration != nil {
			out.Roles, out.Branches = u.Registration.Roles, u.Registration.Data.Branches
		}
		return out
	}
	t.Fatalf("no dev user %s", email)
	return nil
}

// sessionFor stores a session for the dev user with this email, as a
// completed login with the fake provider would (an access token valid for
// an hour that also works as a bearer token, a refresh token, an id_token),
// and returns its cookie and the session.
func (e *env) sessionFor(email string) (string, *session.Session) {
	e.t.Helper()
	if e.fake == nil {
		e.t.Fatal("sessionFor needs envOpts.fakeIdP; with the dev IdP, log in (loggedIn)")
	}
	u := devUser(e.t, email)
	s := &session.Session{
		UserID: u.ID, Email: u.Email, Name: u.Name, Roles: u.Roles, TenantID: u.TenantID, Branches: u.Branches,
		AccessToken: e.fake.issue(u), RefreshToken: fakeToken("rt"), IDToken: fakeToken("idt"),
		AccessExpiry: e.fake.now().Add(time.Hour),
	}
	cookie, err := e.store.Create(context.Background(), s)
	if err != nil {
		e.t.Fatal(err)
	}
	return cookie, s
}
