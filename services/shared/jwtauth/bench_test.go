package jwtauth

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerify measures Verify per algorithm, with the verified-token
// cache (every iteration after the first is a hit) and without it.
func BenchmarkVerify(b *testing.B) {
	a := keysA()
	for _, alg := range []struct {
		name string
		m    jwt.SigningMethod
		key  any
		iss  string
	}{
		{"HS256", jwt.SigningMethodHS256, a.hmac, issHMAC},
		{"RS256", jwt.SigningMethodRS256, a.rsa, issPEM},
		{"ES256", jwt.SigningMethodES256, a.ec, issPEM},
		{"EdDSA", jwt.SigningMethodEdDSA, a.ed, issPEM},
	} {
		for _, cache := range []struct {
			name string
			size int
		}{{"cache", 0}, {"nocache", -1}} {
			b.Run(alg.name+"/"+cache.name, func(b *testing.B) {
				cfg := testConfig(b, newClock(), "http://127.0.0.1:1/unused")
				cfg.Issuers = cfg.Issuers[:2]
				cfg.CacheSize = cache.size
				v := newVerifier(b, cfg)
				tok := sign(b, alg.m, alg.key, "", claims(alg.iss))
				ctx := context.Background()
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
