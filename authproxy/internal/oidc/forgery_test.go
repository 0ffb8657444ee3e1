package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/hack/devidp"
)

// TestVerifyAccessTokenForgeries signs tokens with the IdP's own key, so
// only the claim checks stand between them and acceptance as a bearer
// credential: an id_token (with or without a nonce), a token for another
// application, another issuer, and roles granted for another application.
func TestVerifyAccessTokenForgeries(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp, base := startIDP(t, func(c *devidp.Config) { c.SigningKey = key })
	p := discoveredProvider(t, base)
	const otherApp = "0c8d3a52-1111-4e01-9d73-ac2d60d1dc8e"
	now := time.Now()
	claims := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": base, "aud": devidp.DefaultClientID, "sub": adminID,
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "j",
			"applicationId": devidp.DefaultClientID, "roles": []string{"admin"},
			"scope": "openid offline_access", "authenticationType": "PASSWORD",
		}
		if mut != nil {
			mut(c)
		}
		return c
	}
	sign := func(c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = idp.KeyID()
		tok.Header["gty"] = []string{"authorization_code"}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name      string
		claims    jwt.MapClaims
		wantErr   bool
		wantRoles []string
	}{
		{name: "access token", claims: claims(nil), wantRoles: []string{"admin"}},
		{name: "id_token with nonce", claims: claims(func(c jwt.MapClaims) { c["nonce"] = "n"; c["at_hash"] = "x" }), wantErr: true},
		{name: "id_token from a refresh (no nonce)", claims: claims(func(c jwt.MapClaims) {
			delete(c, "applicationId")
			delete(c, "roles")
			delete(c, "scope")
			c["at_hash"] = "x"
			c["email"] = "admin@example.com"
		}), wantErr: true},
		{name: "id_token with c_hash only", claims: claims(func(c jwt.MapClaims) { c["c_hash"] = "x" }), wantErr: true},
		{name: "token for another application", claims: claims(func(c jwt.MapClaims) { c["aud"] = otherApp; c["applicationId"] = otherApp }), wantErr: true},
		{name: "another issuer", claims: claims(func(c jwt.MapClaims) { c["iss"] = "http://evil.example" }), wantErr: true},
		{name: "expired", claims: claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), wantErr: true},
		{name: "no subject", claims: claims(func(c jwt.MapClaims) { delete(c, "sub") }), wantErr: true},
		{name: "roles of another application", claims: claims(func(c jwt.MapClaims) {
			c["aud"] = []string{devidp.DefaultClientID, otherApp}
			c["applicationId"] = otherApp
		}), wantRoles: nil},
		{name: "unregistered user", claims: claims(func(c jwt.MapClaims) { delete(c, "applicationId"); delete(c, "roles") }), wantRoles: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, u, err := p.VerifyAccessToken(context.Background(), sign(tt.claims))
			if tt.wantErr {
				if !errors.Is(err, ErrAccessToken) {
					t.Fatalf("accepted (err %v), want ErrAccessToken", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !slices.Equal(u.Roles, tt.wantRoles) {
				t.Errorf("roles %v, want %v", u.Roles, tt.wantRoles)
			}
		})
	}
}
