package jwtauth

import (
	"context"
	"crypto/rsa"
	"errors"
	"testing"
)

// TestKey: Verifier.Key hands out an issuer's key bound to its algorithm,
// for JWTs that are not bearer tokens (a webhook signature).
func TestKey(t *testing.T) {
	t.Parallel()
	s := newJWKSServer(t, defaultJWKS())
	v := newVerifier(t, testConfig(t, newClock(), s.URL))
	b := keysB()
	for _, tt := range []struct {
		name, iss, kid, alg string
		want                any
		wantErr             error
	}{
		{name: "jwks key by kid", iss: issJWKS, kid: kidRSA, alg: "RS256", want: &b.rsa.PublicKey},
		{name: "jwks key under another alg", iss: issJWKS, kid: kidRSA, alg: "HS256", wantErr: ErrUnknownKey},
		{name: "unknown kid", iss: issJWKS, kid: "nope", alg: "RS256", wantErr: ErrUnknownKey},
		{name: "untrusted issuer", iss: "https://evil.test", kid: kidRSA, alg: "RS256", wantErr: ErrUntrustedIssuer},
		{name: "hmac issuer", iss: issHMAC, alg: "HS256", want: keysA().hmac},
		{name: "hmac issuer, rsa alg", iss: issHMAC, alg: "RS256", wantErr: ErrUnknownKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Key(context.Background(), tt.iss, tt.kid, tt.alg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch w := tt.want.(type) {
			case *rsa.PublicKey:
				if k, ok := got.(*rsa.PublicKey); !ok || !k.Equal(w) {
					t.Fatalf("key %T, want the issuer's RSA key", got)
				}
			case []byte:
				if k, ok := got.([]byte); !ok || string(k) != string(w) {
					t.Fatal("not the issuer's HMAC secret")
				}
			}
		})
	}
}
