package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// signRaw signs a raw header and a raw payload (so duplicate or odd members
// can be expressed) with HS256.
func signRaw(t testing.TB, header, payload string, secret []byte) string {
	t.Helper()
	signing := b64u([]byte(header)) + "." + b64u([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(signing, secret)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64u(sig)
}

// TestStrictTokenJSON: the issuer signed these tokens, yet each one is
// ambiguous: a claim that other parsers read differently (a duplicate, a
// case variant that encoding/json would silently map onto a claim) or a
// date that is not a plain, representable NumericDate. All are refused.
func TestStrictTokenJSON(t *testing.T) {
	t.Parallel()
	a := keysA()
	clk := newClock()
	v := pemHMACVerifier(t, clk, -1)
	exp, iat := t0.Unix()+60, t0.Unix()
	const hdr = `{"alg":"HS256","typ":"JWT"}`
	base := fmt.Sprintf(`"iss":%q,"sub":"user-1","aud":%q,"iat":%d`, issHMAC, audInv, iat)
	tests := []struct {
		name    string
		header  string
		payload string
		wantErr error
	}{
		{name: "plain token accepted", payload: fmt.Sprintf(`{%s,"exp":%d}`, base, exp)},
		{name: "fractional exp accepted", payload: fmt.Sprintf(`{%s,"exp":%d.5}`, base, exp)},
		{name: "exponent exp accepted", payload: fmt.Sprintf(`{%s,"exp":%de0}`, base, exp)},
		{name: "unknown custom claims accepted", payload: fmt.Sprintf(`{%s,"exp":%d,"x":{"a":1,"a":2}}`, base, exp)},

		{name: "EXP instead of exp", payload: fmt.Sprintf(`{%s,"EXP":%d}`, base, exp), wantErr: ErrMalformed},
		{name: "Roles case variant", payload: fmt.Sprintf(`{%s,"exp":%d,"roles":["user"],"Roles":["admin"]}`, base, exp), wantErr: ErrMalformed},
		{name: "Unicode fold variant of sub", payload: fmt.Sprintf(`{%s,"exp":%d,"ſub":"admin-1"}`, base, exp), wantErr: ErrMalformed},
		{name: "duplicate roles", payload: fmt.Sprintf(`{%s,"exp":%d,"roles":["user"],"roles":["admin"]}`, base, exp), wantErr: ErrMalformed},
		{name: "duplicate aud", payload: fmt.Sprintf(`{%s,"exp":%d,"aud":"catalog"}`, base, exp), wantErr: ErrMalformed},
		{name: "duplicate iss", payload: fmt.Sprintf(`{"iss":"https://evil.test",%s,"exp":%d}`, base, exp), wantErr: ErrMalformed},
		{name: "duplicate header alg", header: `{"alg":"none","alg":"HS256"}`, payload: fmt.Sprintf(`{%s,"exp":%d}`, base, exp), wantErr: ErrMalformed},
		{name: "exp as string", payload: fmt.Sprintf(`{%s,"exp":"%d"}`, base, exp), wantErr: ErrMalformed},
		{name: "exp huge", payload: fmt.Sprintf(`{%s,"exp":1e300}`, base), wantErr: ErrMalformed},
		{name: "exp beyond year 9999", payload: fmt.Sprintf(`{%s,"exp":253402300800}`, base), wantErr: ErrMalformed},
		{name: "exp negative", payload: fmt.Sprintf(`{%s,"exp":-1}`, base), wantErr: ErrMalformed},
		{name: "nbf huge (int64 overflow would read as the past)", payload: fmt.Sprintf(`{%s,"exp":%d,"nbf":1e300}`, base, exp), wantErr: ErrMalformed},
		{name: "iat as string", payload: fmt.Sprintf(`{"iss":%q,"sub":"u","aud":%q,"iat":"%d","exp":%d}`, issHMAC, audInv, iat, exp), wantErr: ErrMalformed},
		{name: "payload not an object", payload: `["iss"]`, wantErr: ErrMalformed},
		{name: "trailing data after payload", payload: fmt.Sprintf(`{%s,"exp":%d} {}`, base, exp), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.header
			if h == "" {
				h = hdr
			}
			verifyErrIs(t, v, signRaw(t, h, tt.payload, a.hmac), tt.wantErr)
		})
	}
}

// TestHeaderKeyTricks: header parameters that name or embed keys (jku, x5u,
// jwk, x5c) are never followed, and a kid is only ever an opaque lookup key
// within the token's own issuer.
func TestHeaderKeyTricks(t *testing.T) {
	t.Parallel()
	b, c := keysB(), keysC()
	jw := newJWKSServer(t, defaultJWKS())
	clk := newClock()
	v := newVerifier(t, testConfig(t, clk, jw.URL))
	evil := newJWKSServer(t, jwksBody(jwkJSON(kidRSA, "RS256", "sig", &c.rsa.PublicKey)))
	ec, err := ecdsa.GenerateKey(elliptic.P256(), testRand{})
	if err != nil {
		t.Fatal(err)
	}
	withHeader := func(k string, val any, key any, kid string, iss string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(iss))
		if kid != "" {
			tok.Header["kid"] = kid
		}
		tok.Header[k] = val
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "jku to attacker JWKS", token: withHeader("jku", evil.URL, c.rsa, kidRSA, issJWKS), wantErr: ErrSignature},
		{name: "x5u to attacker", token: withHeader("x5u", evil.URL, c.rsa, kidRSA, issJWKS), wantErr: ErrSignature},
		{name: "embedded jwk", token: withHeader("jwk", jwkJSON(kidRSA, "RS256", "sig", &c.rsa.PublicKey), c.rsa, kidRSA, issJWKS), wantErr: ErrSignature},
		{name: "embedded jwk on PEM issuer", token: withHeader("jwk", jwkJSON("k", "RS256", "sig", &c.rsa.PublicKey), c.rsa, "", issPEM), wantErr: ErrSignature},
		{name: "path kid", token: withHeader("typ", "JWT", b.rsa, "../../../../dev/null", issJWKS), wantErr: ErrUnknownKey},
		{name: "SQL-like kid", token: withHeader("typ", "JWT", b.rsa, "x' OR '1'='1", issJWKS), wantErr: ErrUnknownKey},
		{name: "numeric kid", token: withHeader("kid", 1, b.rsa, "", issJWKS), wantErr: ErrMalformed},
		{name: "iss with trailing slash", token: withHeader("typ", "JWT", b.rsa, kidRSA, issJWKS+"/"), wantErr: ErrUntrustedIssuer},
		{name: "iss in upper case", token: withHeader("typ", "JWT", b.rsa, kidRSA, "HTTPS://IDP.TEST"), wantErr: ErrUntrustedIssuer},
		{name: "EC key kid of another type", token: func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims(issJWKS))
			tok.Header["kid"] = kidRSA
			s, _ := tok.SignedString(ec)
			return s
		}(), wantErr: ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if n := evil.hits.Load(); n != 0 {
		t.Fatalf("attacker key URL fetched %d times", n)
	}
}
