package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// fusionAuthTokenPath is where FusionAuth serves its token endpoint; its
// Logout API is beside it.
const fusionAuthTokenPath = "/oauth2/token"

// logoutAPI is FusionAuth's Logout API URL for doc: "" unless
// Config.LogoutAPI is set, the provider announces no revocation_endpoint
// (with one, RFC 7009 is used) and its token endpoint is FusionAuth-shaped
// (its path ends in /oauth2/token; the issuer is no guide, FusionAuth's is
// any string the tenant configures).
func (p *Provider) logoutAPI(doc *discoveryDoc) string {
	if !p.cfg.LogoutAPI || doc.RevocationEndpoint != "" {
		return ""
	}
	u, err := url.Parse(doc.TokenEndpoint)
	if err != nil || !strings.HasSuffix(u.Path, fusionAuthTokenPath) {
		return ""
	}
	u.Path = strings.TrimSuffix(u.Path, fusionAuthTokenPath) + "/api/logout"
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String()
}

// RevokeRefreshToken revokes token at the provider, so a copy of it stolen
// from the session dies with the session: at its revocation_endpoint (OAuth
// 2.0 Token Revocation, RFC 7009: token and token_type_hint refresh_token,
// the client authenticated as at the token endpoint), or else, with
// Config.LogoutAPI, through FusionAuth's Logout API (which FusionAuth offers
// clients without an API key: POST /api/logout, JSON refreshToken and
// global false, revoking that one token). ok is false, with no error, when
// the provider offers neither or the token is empty. A 200 answer is
// success (RFC 7009 and FusionAuth answer 200 for an unknown token too);
// anything else is an error.
func (p *Provider) RevokeRefreshToken(ctx context.Context, token string) (ok bool, err error) {
	d, err := p.loaded()
	if err != nil {
		return false, err
	}
	switch {
	case token == "":
		return false, nil
	case d.revocation != "":
		return p.revokeRFC7009(ctx, d, token)
	case d.logoutAPI != "":
		return p.revokeLogoutAPI(ctx, d.logoutAPI, token)
	}
	return false, nil
}

// revokeLogoutAPI posts token to FusionAuth's Logout API at endpoint.
func (p *Provider) revokeLogoutAPI(ctx context.Context, endpoint, token string) (bool, error) {
	body, err := json.Marshal(struct {
		RefreshToken string `json:"refreshToken"`
		Global       bool   `json:"global"`
	}{RefreshToken: token})
	if err != nil {
		return false, fmt.Errorf("oidc: logout api: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("oidc: logout api: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return p.postRevoke(req, endpoint)
}

// postRevoke sends a revocation request and reads its answer: 200 is
// success.
func (p *Provider) postRevoke(req *http.Request, endpoint string) (bool, error) {
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("oidc: revoke: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("oidc: revoke: %s answered %d", endpoint, resp.StatusCode)
	}
	return true, nil
}

// revokeRFC7009 posts token to the revocation_endpoint.
func (p *Provider) revokeRFC7009(ctx context.Context, d *discovered, token string) (bool, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	basic := d.oauth.Endpoint.AuthStyle != oauth2.AuthStyleInParams
	if !basic {
		form.Set("client_id", p.cfg.ClientID)
		if p.cfg.ClientSecret != "" {
			form.Set("client_secret", p.cfg.ClientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("oidc: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		// RFC 6749 2.3.1: the client id and secret form-encoded, then Basic.
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	return p.postRevoke(req, d.revocation)
}
