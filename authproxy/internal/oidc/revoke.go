package oidc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// RevokeRefreshToken revokes token at the provider's revocation_endpoint
// (OAuth 2.0 Token Revocation, RFC 7009: token and token_type_hint
// refresh_token, the client authenticated as at the token endpoint), so a
// copy of it stolen from the session dies with the session. ok is false,
// with no error, when the provider announced no revocation_endpoint
// (FusionAuth announces none: its refresh-token API needs an API key) or
// the token is empty. A 200 answer is success (RFC 7009 answers 200 for an
// unknown token too); anything else is an error.
func (p *Provider) RevokeRefreshToken(ctx context.Context, token string) (ok bool, err error) {
	d, err := p.loaded()
	if err != nil {
		return false, err
	}
	if d.revocation == "" || token == "" {
		return false, nil
	}
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
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("oidc: revoke: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("oidc: revoke: %s answered %d", d.revocation, resp.StatusCode)
	}
	return true, nil
}
