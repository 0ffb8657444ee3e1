package jwtauth

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// pemHMACVerifier trusts the PEM and HMAC issuers only (no network).
func pemHMACVerifier(t *testing.T, clk *testkit.Clock, cacheSize int) *Verifier {
	t.Helper()
	cfg := testConfig(t, clk, "http://127.0.0.1:1/unused")
	cfg.Issuers = cfg.Issuers[:2]
	cfg.CacheSize = cacheSize
	return newVerifier(t, cfg)
}

// dropKeys removes every key of the PEM issuer, so only a cache hit can succeed.
func dropKeys(v *Verifier) { v.issuers[issPEM].static = nil }

func TestCacheHitSkipsSignatureCheck(t *testing.T) {
	t.Parallel()
	tok := sign(t, jwt.SigningMethodES256, keysA().ec, "", claims(issPEM))
	for _, tt := range []struct {
		name      string
		cacheSize int
		wantErr   error
	}{
		{name: "cache on", cacheSize: 0},
		{name: "cache off", cacheSize: -1, wantErr: ErrUnknownKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := pemHMACVerifier(t, newClock(), tt.cacheSize)
			verifyErrIs(t, v, tok, nil)
			dropKeys(v)
			verifyErrIs(t, v, tok, tt.wantErr)
		})
	}
}

func TestCacheNeverServesPastExp(t *testing.T) {
	t.Parallel()
	tok := sign(t, jwt.SigningMethodES256, keysA().ec, "", claims(issPEM)) // exp = t0+1m
	t.Run("entry dropped at exp", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		v := pemHMACVerifier(t, clk, 0)
		verifyErrIs(t, v, tok, nil)
		dropKeys(v)
		clk.Advance(time.Minute - time.Second)
		verifyErrIs(t, v, tok, nil) // cache hit
		clk.Advance(time.Second)    // exactly exp: the entry is gone, so the missing keys show
		verifyErrIs(t, v, tok, ErrUnknownKey)
	})
	t.Run("expired beyond leeway after a hit", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		v := pemHMACVerifier(t, clk, 0)
		verifyErrIs(t, v, tok, nil)
		verifyErrIs(t, v, tok, nil)
		clk.Advance(time.Minute + DefaultLeeway + time.Second)
		verifyErrIs(t, v, tok, ErrExpired)
	})
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	a := keysA()
	v := pemHMACVerifier(t, newClock(), 2)
	toks := make([]string, 3)
	for i := range toks {
		toks[i] = sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "jti", string(rune('a'+i))))
	}
	verifyErrIs(t, v, toks[0], nil)
	verifyErrIs(t, v, toks[1], nil)
	verifyErrIs(t, v, toks[0], nil) // 0 is now the most recent
	verifyErrIs(t, v, toks[2], nil) // evicts 1
	if n := v.cache.len(); n != 2 {
		t.Fatalf("cache holds %d entries, want 2", n)
	}
	for i, want := range []bool{true, false, true} {
		_, got := v.cache.get(sha256.Sum256([]byte(toks[i])), t0)
		if got != want {
			t.Errorf("token %d cached = %v, want %v", i, got, want)
		}
	}
}

func TestVerifyReturnsCopies(t *testing.T) {
	t.Parallel()
	v := pemHMACVerifier(t, newClock(), 0)
	tok := sign(t, jwt.SigningMethodHS256, keysA().hmac, "", with(claims(issHMAC), "branches", []any{1, "2"}))
	c1, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	c1.Roles[0] = "superadmin"
	var b1 StringList
	if _, err := c1.Extra("branches", &b1); err != nil {
		t.Fatal(err)
	}
	b1[0] = "99"
	c1.Audience[0] = "catalog"
	c1.ExpiresAt.Time = c1.ExpiresAt.Add(time.Hour)
	c1.IssuedAt.Time = time.Time{}
	c2, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"admin"}, c2.Roles); diff != "" {
		t.Errorf("roles changed through an earlier result (-want +got):\n%s", diff)
	}
	var b2 StringList
	if ok, err := c2.Extra("branches", &b2); !ok || err != nil {
		t.Fatalf("branches claim: %v, %v", ok, err)
	}
	if diff := cmp.Diff(StringList{"1", "2"}, b2); diff != "" {
		t.Errorf("branches (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(jwt.ClaimStrings{audInv}, c2.Audience); diff != "" {
		t.Errorf("audience (-want +got):\n%s", diff)
	}
	if !c2.ExpiresAt.Equal(t0.Add(time.Minute)) || !c2.IssuedAt.Equal(t0) {
		t.Errorf("exp/iat changed through an earlier result: %v, %v", c2.ExpiresAt, c2.IssuedAt)
	}
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	a := keysA()
	v := pemHMACVerifier(t, newClock(), 4)
	toks := make([]string, 8)
	for i := range toks {
		toks[i] = sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "jti", string(rune('a'+i))))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := v.Verify(context.Background(), toks[(g+i)%len(toks)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := v.cache.len(); n > 4 {
		t.Fatalf("cache grew to %d entries, bound is 4", n)
	}
}

// TestCacheDropsTokensOfWithdrawnKeys: once a key is gone from the issuer's
// JWKS (rotated out after a compromise), tokens it signed are no longer
// served from the cache, while a refresh that keeps the key keeps them.
func TestCacheDropsTokensOfWithdrawnKeys(t *testing.T) {
	t.Parallel()
	b, c := keysB(), keysC()
	s := newJWKSServer(t, defaultJWKS())
	clk := newClock()
	cfg := testConfig(t, clk, s.URL)
	cfg.Issuers = cfg.Issuers[2:]
	v := newVerifier(t, cfg)
	tok := sign(t, jwt.SigningMethodRS256, b.rsa, kidRSA, with(claims(issJWKS), "exp", t0.Add(time.Hour).Unix()))
	trigger := func(kid string) { // an unknown kid makes the verifier refetch
		t.Helper()
		clk.Advance(DefaultJWKSRefetch)
		verifyErrIs(t, v, sign(t, jwt.SigningMethodRS256, c.rsa, kid, claims(issJWKS)), ErrUnknownKey)
	}
	cached := func() bool {
		_, ok := v.cache.get(sha256.Sum256([]byte(tok)), clk.Now())
		return ok
	}
	verifyErrIs(t, v, tok, nil)

	trigger("unknown-1") // the same key set again
	if !cached() {
		t.Fatal("a refresh that keeps the key dropped the cached token")
	}

	s.set(http.StatusOK, jwksBody(jwkJSON(kidEC, "", "", &b.ec.PublicKey)))
	trigger("unknown-2") // rsa-1 withdrawn
	verifyErrIs(t, v, tok, ErrUnknownKey)
}

// TestCacheIsPerVerifier: catalog and inventory verifiers in one process do
// not share cached results, so a token verified (and cached) for catalog is
// still refused by inventory.
func TestCacheIsPerVerifier(t *testing.T) {
	t.Parallel()
	clk := newClock()
	catalogCfg := testConfig(t, clk, "http://127.0.0.1:1/unused")
	catalogCfg.Issuers = catalogCfg.Issuers[:2]
	catalogCfg.Audience = "catalog"
	catalog := newVerifier(t, catalogCfg)
	inventory := pemHMACVerifier(t, clk, 0) // audience inventory
	tok := sign(t, jwt.SigningMethodHS256, keysA().hmac, "", with(claims(issHMAC), "aud", "catalog"))
	verifyErrIs(t, catalog, tok, nil)
	verifyErrIs(t, catalog, tok, nil) // now a cache hit
	verifyErrIs(t, inventory, tok, ErrAudience)
}
