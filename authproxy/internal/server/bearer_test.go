package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatewarden/gatewarden/authproxy/internal/token"
	"github.com/gatewarden/gatewarden/hack/devidp"
)

// refreshIDToken redeems refreshToken at the IdP directly and returns the
// id_token of the answer (FusionAuth's refresh answer carries no nonce).
func refreshIDToken(t *testing.T, e *env, refreshToken string) string {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req, _ := http.NewRequest(http.MethodPost, e.idpURL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(devidp.DefaultClientID, devidp.DefaultClientSecret)
	resp, body := send(t, req)
	var tr struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal([]byte(body), &tr); resp.StatusCode != http.StatusOK || err != nil || tr.IDToken == "" {
		t.Fatalf("refresh at the IdP: %d %s", resp.StatusCode, body)
	}
	return tr.IDToken
}

// TestBearerConfusion: only a FusionAuth access token for this application
// counts as a bearer credential. id_tokens (from login or from a refresh,
// which has no nonce) and gateway-minted tokens (even one whose aud is the
// application id) are refused, and a refused bearer never falls back to the
// cookie sent alongside it.
func TestBearerConfusion(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{})
	p := ps[0]
	admin, _ := loggedIn(t, p, "admin@example.com")
	as := loadSession(t, p, admin)
	refreshedIDToken := refreshIDToken(t, e, as.RefreshToken)
	resp, _ := fwd{uri: "/products", cookie: admin}.send(t, p, dialectForwarded)
	gatewayCatalog := bearerOf(t, resp)
	gatewayForApp, _, err := p.srv.tokens.signer.Mint(token.Claims{
		Subject: adminID, Audience: devidp.DefaultClientID, Roles: []string{"admin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		req    fwd
		status int
		sub    string // X-Auth-Request-User on 200
	}{
		{name: "access token", req: fwd{uri: "/admin/x", bearer: as.AccessToken}, status: 200, sub: adminID},
		{name: "id_token from login", req: fwd{uri: "/account/me", bearer: as.IDToken}, status: 401},
		{name: "id_token from a refresh", req: fwd{uri: "/account/me", bearer: refreshedIDToken}, status: 401},
		{name: "gateway token", req: fwd{uri: "/account/me", bearer: gatewayCatalog}, status: 401},
		{name: "gateway token with the application as aud", req: fwd{uri: "/admin/x", bearer: gatewayForApp}, status: 401},
		{name: "bad bearer does not fall back to the cookie", req: fwd{uri: "/admin/x", bearer: "garbage", cookie: admin}, status: 401},
		{name: "id_token bearer with a valid cookie", req: fwd{uri: "/admin/x", bearer: refreshedIDToken, cookie: admin}, status: 401},
		{name: "other scheme leaves the cookie", req: fwd{uri: "/admin/x", cookie: admin, headers: map[string]string{"Authorization": "Basic YTpi"}}, status: 200, sub: adminID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.req.accept = jsonAccept
			resp, body := tt.req.send(t, p, dialectForwarded)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			switch tt.status {
			case 200:
				if got := resp.Header.Get(HeaderUser); got != tt.sub {
					t.Errorf("%s = %q, want %q", HeaderUser, got, tt.sub)
				}
			case 401:
				if wa := resp.Header.Get("WWW-Authenticate"); tt.req.bearer != "" && !strings.Contains(wa, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate %q lacks invalid_token", wa)
				}
				if resp.Header.Get("Authorization") != "" || resp.Header.Get(HeaderUser) != "" {
					t.Errorf("refusal carries identity headers: %v", resp.Header)
				}
			}
		})
	}
}
