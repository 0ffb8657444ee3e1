package jwtauth

import (
	"context"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic and must
// succeed only for the tokens validly signed in the seed corpus.
func FuzzVerify(f *testing.F) {
	a := keysA()
	valid := map[string]bool{}
	for _, tok := range []string{
		sign(f, jwt.SigningMethodRS256, a.rsa, "", claims(issPEM)),
		sign(f, jwt.SigningMethodES256, a.ec, "", claims(issPEM)),
		sign(f, jwt.SigningMethodEdDSA, a.ed, "k", claims(issPEM)),
		sign(f, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "branches", []any{1, "2"})),
	} {
		valid[tok] = true
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[1] + "." + parts[0] + "." + parts[2])
	}
	for _, s := range []string{
		"", ".", "..", "a.b.c",
		rawToken(`{"alg":"none"}`, claims(issPEM), []byte("x")),
		sign(f, jwt.SigningMethodHS256, pemPublic(f, &a.rsa.PublicKey), "", claims(issPEM)),
		sign(f, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "exp", "soon")),
		sign(f, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "aud", 7)),
		sign(f, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "iss", []string{issHMAC})),
		b64u([]byte(`{"alg":"HS256","kid":7}`)) + "." + b64u([]byte(`{"iss":"https://hs.test"}`)) + ".c2ln",
	} {
		f.Add(s)
	}
	cfg := testConfig(f, newClock(), "http://127.0.0.1:1/unused")
	cfg.Issuers = cfg.Issuers[:2]
	v := newVerifier(f, cfg)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err == nil && !valid[tok] {
			t.Fatalf("accepted a token that was never signed: %q", tok)
		}
		if err == nil && (c == nil || c.ExpiresAt == nil) {
			t.Fatal("success without claims or exp")
		}
		if valid[tok] && err != nil {
			t.Fatalf("valid seed rejected: %v", err)
		}
		if err != nil && strings.Contains(err.Error(), tok) && len(tok) > 8 {
			t.Fatalf("error message contains the token")
		}
	})
}
