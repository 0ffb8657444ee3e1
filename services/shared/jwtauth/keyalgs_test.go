package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ecJWK renders an EC key of any curve as a JWK.
func ecJWK(kid, alg, crv string, k *ecdsa.PublicKey) map[string]string {
	b, err := k.Bytes()
	if err != nil {
		panic(err)
	}
	n := (len(b) - 1) / 2
	m := map[string]string{"kid": kid, "kty": "EC", "crv": crv, "x": b64u(b[1 : 1+n]), "y": b64u(b[1+n:])}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

// checkVerify verifies token against a JWKS issuer serving jwks and wants
// wantErr (nil: success).
func checkVerify(t *testing.T, jwks []byte, token string, wantErr error) {
	t.Helper()
	srv := newJWKSServer(t, jwks)
	v := newVerifier(t, Config{
		Issuers:  []IssuerConfig{{Issuer: issJWKS, JWKSURL: srv.URL, JWKSRefresh: time.Hour}},
		Audience: audInv, Now: newClock().Now,
	})
	_, err := v.Verify(context.Background(), token)
	if wantErr == nil && err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if wantErr != nil && !errors.Is(err, wantErr) {
		t.Fatalf("Verify error = %v, want %v", err, wantErr)
	}
}

// TestKeyMasterAlgorithms: every signature algorithm FusionAuth's Key Master
// offers for tokens verifies from a JWKS, with and without the JWK's alg
// member, and a key never serves an algorithm of another family.
func TestKeyMasterAlgorithms(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name    string
		jwk     map[string]string
		method  jwt.SigningMethod
		key     any
		wantErr error
	}{
		{name: "RS256", jwk: jwkJSON("k", "RS256", "sig", &rsaKey.PublicKey), method: jwt.SigningMethodRS256, key: rsaKey},
		{name: "RS384", jwk: jwkJSON("k", "RS384", "sig", &rsaKey.PublicKey), method: jwt.SigningMethodRS384, key: rsaKey},
		{name: "RS512", jwk: jwkJSON("k", "RS512", "sig", &rsaKey.PublicKey), method: jwt.SigningMethodRS512, key: rsaKey},
		{name: "RS512 from an RSA JWK without alg", jwk: jwkJSON("k", "", "", &rsaKey.PublicKey), method: jwt.SigningMethodRS512, key: rsaKey},
		{name: "RS384 from an RSA JWK without alg", jwk: jwkJSON("k", "", "", &rsaKey.PublicKey), method: jwt.SigningMethodRS384, key: rsaKey},
		{name: "ES256", jwk: ecJWK("k", "ES256", "P-256", &ec256.PublicKey), method: jwt.SigningMethodES256, key: ec256},
		{name: "ES384", jwk: ecJWK("k", "ES384", "P-384", &ec384.PublicKey), method: jwt.SigningMethodES384, key: ec384},
		{name: "ES512", jwk: ecJWK("k", "ES512", "P-521", &ec521.PublicKey), method: jwt.SigningMethodES512, key: ec521},
		{name: "ES384 from an EC JWK without alg", jwk: ecJWK("k", "", "P-384", &ec384.PublicKey), method: jwt.SigningMethodES384, key: ec384},
		{name: "EdDSA", jwk: jwkJSON("k", "EdDSA", "sig", ed.Public()), method: jwt.SigningMethodEdDSA, key: ed},
		{name: "RS512 token against a key pinned to RS256", jwk: jwkJSON("k", "RS256", "sig", &rsaKey.PublicKey), method: jwt.SigningMethodRS512, key: rsaKey, wantErr: ErrUnknownKey},
		{name: "ES256 token against a P-384 key", jwk: ecJWK("k", "", "P-384", &ec384.PublicKey), method: jwt.SigningMethodES256, key: ec256, wantErr: ErrUnknownKey},
		{name: "HS256 token signed with the RSA key's JWK", jwk: jwkJSON("k", "", "", &rsaKey.PublicKey), method: jwt.SigningMethodHS256, key: []byte("0123456789abcdef0123456789abcdef"), wantErr: ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkVerify(t, jwksBody(tc.jwk), sign(t, tc.method, tc.key, "k", claims(issJWKS)), tc.wantErr)
		})
	}
}

// TestKeyWithoutKid: a provider with a single key may leave kid out of the
// key and of its tokens (OpenID Connect Core 10.1); with several keys a
// token must name one.
func TestKeyWithoutKid(t *testing.T) {
	t.Parallel()
	b := keysB()
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name    string
		jwks    []byte
		kid     string
		wantErr error
	}{
		{name: "single key without kid, token without kid", jwks: jwksBody(jwkJSON("", "RS256", "sig", &b.rsa.PublicKey))},
		{name: "single key without kid, token with a kid", jwks: jwksBody(jwkJSON("", "RS256", "sig", &b.rsa.PublicKey)), kid: "whatever"},
		{name: "single key with kid, token without kid", jwks: jwksBody(jwkJSON(kidRSA, "RS256", "sig", &b.rsa.PublicKey))},
		{name: "single key with kid, token with another kid", jwks: jwksBody(jwkJSON(kidRSA, "RS256", "sig", &b.rsa.PublicKey)), kid: "other", wantErr: ErrUnknownKey},
		{name: "two keys, token without kid", jwks: jwksBody(jwkJSON("", "RS256", "sig", &b.rsa.PublicKey), jwkJSON("", "ES256", "sig", &other.PublicKey)), wantErr: ErrUnknownKey},
		{name: "two keys without kid, token with a kid", jwks: jwksBody(jwkJSON("", "RS256", "sig", &b.rsa.PublicKey), jwkJSON("", "ES256", "sig", &other.PublicKey)), kid: "x", wantErr: ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkVerify(t, tc.jwks, sign(t, jwt.SigningMethodRS256, b.rsa, tc.kid, claims(issJWKS)), tc.wantErr)
		})
	}
}

// TestIDTokenRefused: an id_token is never accepted as a bearer token,
// while access tokens that carry nonce-like claims for a documented reason
// (typ at+jwt, typ claim Bearer) pass.
func TestIDTokenRefused(t *testing.T) {
	t.Parallel()
	b := keysB()
	srv := newJWKSServer(t, defaultJWKS())
	clk := newClock()
	cfg := Config{
		Issuers:  []IssuerConfig{{Issuer: issJWKS, JWKSURL: srv.URL, JWKSRefresh: time.Hour}},
		Audience: audInv, Now: clk.Now,
	}
	strict := newVerifier(t, cfg)
	cfg.AcceptIDTokens = true
	lenient := newVerifier(t, cfg)
	mint := func(typ string, kv ...any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, with(claims(issJWKS), kv...))
		tok.Header["kid"] = kidRSA
		if typ != "" {
			tok.Header["typ"] = typ
		}
		s, err := tok.SignedString(b.rsa)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name  string
		token string
		isID  bool
	}{
		{name: "access token", token: mint("JWT")},
		{name: "id_token with at_hash (FusionAuth, also after a refresh)", token: mint("JWT", "at_hash", "abc"), isID: true},
		{name: "id_token with nonce", token: mint("JWT", "nonce", "n"), isID: true},
		{name: "id_token with c_hash", token: mint("", "c_hash", "abc"), isID: true},
		{name: "Keycloak-style id_token (typ claim ID)", token: mint("JWT", "typ", "ID"), isID: true},
		{name: "Keycloak-style access token with nonce (typ claim Bearer)", token: mint("JWT", "typ", "Bearer", "nonce", "n")},
		{name: "RFC 9068 access token with nonce", token: mint("at+jwt", "nonce", "n")},
		{name: "RFC 9068 media type spelling", token: mint("application/at+jwt", "at_hash", "x")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := strict.Verify(context.Background(), tc.token)
			if tc.isID != errors.Is(err, ErrIDToken) {
				t.Fatalf("strict Verify error = %v, want id_token refusal = %v", err, tc.isID)
			}
			if !tc.isID && err != nil {
				t.Fatalf("strict Verify: %v", err)
			}
			if _, err := lenient.Verify(context.Background(), tc.token); err != nil {
				t.Fatalf("AcceptIDTokens Verify: %v", err)
			}
		})
	}
}

func FuzzIDTokenReason(f *testing.F) {
	f.Add("eyJ0eXAiOiJhdCtqd3QifQ.eyJub25jZSI6Im4ifQ.x", false)
	f.Add("a.b.c", true)
	f.Add("..", false)
	f.Fuzz(func(t *testing.T, token string, lenient bool) {
		var known []string
		if lenient {
			known = IDTokenClaims(token)
		}
		_ = IDTokenReason(token, known...) // must not panic
	})
}
