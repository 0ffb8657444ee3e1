package stack

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatewarden/gatewarden/hack/testkit/devlogin"
)

// AcceptHTML is a browser's Accept header (authproxy redirects such clients to the login).
const AcceptHTML = devlogin.AcceptHTML

// Login signs u in through the gateway exactly as a browser does (/oauth2/start, the dev
// IdP's form, the callback) and returns a client whose cookie jar holds the session. The
// client does not follow redirects afterwards.
func (s *Stack) Login(ctx context.Context, u User) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("stack: login: %w", err)
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if err := signIn(ctx, c, s.GatewayURL+"/oauth2/start?rd=%2F", u); err != nil {
		return nil, err
	}
	gw, err := url.Parse(s.GatewayURL)
	if err != nil {
		return nil, fmt.Errorf("stack: login: %w", err)
	}
	if len(jar.Cookies(gw)) == 0 {
		return nil, fmt.Errorf("stack: login %s: no session cookie after the callback", u.Email)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// Logout ends the session held by c (a client from Login) with the gateway's logout POST.
func (s *Stack) Logout(ctx context.Context, c *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.GatewayURL+"/oauth2/logout", nil)
	if err != nil {
		return fmt.Errorf("stack: logout: %w", err)
	}
	req.Header.Set("Origin", s.GatewayURL)
	req.Header.Set("Accept", AcceptHTML)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("stack: logout: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("stack: logout: status %d, want a redirect", resp.StatusCode)
	}
	return nil
}

// AccessToken signs u in at the dev IdP as an API client does (authorization code with PKCE,
// the gateway's registered callback as redirect URI, the code taken from the redirect) and
// returns the FusionAuth-style access token, for "Authorization: Bearer" requests.
func (s *Stack) AccessToken(ctx context.Context, u User) (string, error) {
	conf := &oauth2.Config{
		ClientID: ClientID, ClientSecret: ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: s.DevIDPURL + "/oauth2/authorize", TokenURL: s.DevIDPURL + "/oauth2/token"},
		RedirectURL: s.GatewayURL + "/oauth2/callback",
		Scopes:      []string{"openid", "offline_access"},
	}
	verifier := oauth2.GenerateVerifier()
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", fmt.Errorf("stack: access token: %w", err)
	}
	var code string
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), conf.RedirectURL) {
			code = r.URL.Query().Get("code")
			return http.ErrUseLastResponse
		}
		return nil
	}}
	if err := signIn(ctx, c, conf.AuthCodeURL("api-client", oauth2.S256ChallengeOption(verifier)), u); err != nil {
		return "", err
	}
	if code == "" {
		return "", fmt.Errorf("stack: access token for %s: no code in the redirect", u.Email)
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second}), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return "", fmt.Errorf("stack: access token for %s: exchange: %w", u.Email, err)
	}
	return tok.AccessToken, nil
}

// signIn opens startURL with c, which leads to the dev IdP's login page, and submits the form
// as u (testkit/devlogin), following the redirects c follows.
func signIn(ctx context.Context, c *http.Client, startURL string, u User) error {
	resp, _, err := devlogin.Login(ctx, c, startURL, u.Email)
	if err != nil {
		return fmt.Errorf("stack: login %s: %w", u.Email, err)
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode/100 != 3 {
		return fmt.Errorf("stack: login %s: %s: status %d", u.Email, resp.Request.URL.Redacted(), resp.StatusCode)
	}
	return nil
}
