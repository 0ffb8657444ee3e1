package token

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// serveJWKS serves a signer's JWKS the way authproxy's /.well-known/jwks.json does.
func serveJWKS(t *testing.T, s *Signer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.JWKS())
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/jwks.json"
}

// TestTokensVerifyWithJWTAuth verifies every algorithm's tokens with the
// services' own middleware, exactly as catalog and inventory will, and checks
// that a token minted for catalog is refused by inventory.
func TestTokensVerifyWithJWTAuth(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{ES256, RS256, EdDSA, HS256} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			cfg := configFor(t, alg)
			cfg.Now = nil // real time: jwtauth checks exp against its own clock
			s, err := NewSigner(cfg)
			if err != nil {
				t.Fatal(err)
			}
			issuer := jwtauth.IssuerConfig{Issuer: testIssuer, Algorithms: []string{alg}}
			if alg == HS256 {
				issuer.HMACSecret = hmacSecret
			} else {
				issuer.JWKSURL = serveJWKS(t, s)
			}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			verifier := func(aud string) *jwtauth.Verifier {
				v, err := jwtauth.New(ctx, jwtauth.Config{Issuers: []jwtauth.IssuerConfig{issuer}, Audience: aud, CacheSize: -1})
				if err != nil {
					t.Fatalf("jwtauth.New: %v", err)
				}
				t.Cleanup(v.Close)
				return v
			}
			catalog, inventory := verifier("catalog"), verifier("inventory")

			tok, _, err := s.Mint(Claims{Subject: "user-1", Audience: "catalog", Roles: []string{"admin"}, TenantID: "tid", SessionID: "sid", Branches: []string{"1"}})
			if err != nil {
				t.Fatal(err)
			}
			claims, err := catalog.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("catalog verify: %v", err)
			}
			var branches jwtauth.StringList
			if _, err := claims.Extra("branches", &branches); err != nil {
				t.Errorf("branches claim: %v", err)
			}
			if claims.Subject != "user-1" || !claims.HasAnyRole("admin") || claims.TenantID != "tid" ||
				claims.SessionID != "sid" || len(branches) != 1 || branches[0] != "1" || claims.Issuer != testIssuer {
				t.Errorf("claims = %+v, branches %q", claims, branches)
			}
			if _, err := inventory.Verify(ctx, tok); !errors.Is(err, jwtauth.ErrInvalidToken) {
				t.Fatalf("catalog token at inventory: err = %v; want ErrInvalidToken", err)
			}
		})
	}
}

// TestMintOrigIat: a token minted with OrigIssuedAt carries it as
// orig_iat, which jwtauth reads (Claims.OrigIssuedAt); without it the
// member is absent; a negative one is refused.
func TestMintOrigIat(t *testing.T) {
	t.Parallel()
	cfg := configFor(t, HS256)
	cfg.Now = nil
	s, err := NewSigner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwtauth.New(t.Context(), jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: testIssuer, Algorithms: []string{HS256}, HMACSecret: hmacSecret}},
		Audience: "catalog", CacheSize: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	for _, tt := range []struct {
		name string
		orig int64
		want int64 // 0 = no orig_iat
	}{
		{name: "from a bearer access token", orig: 1_700_000_000, want: 1_700_000_000},
		{name: "access token without iat", orig: 1, want: 1},
		{name: "from a session", orig: 0, want: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, _, err := s.Mint(Claims{Subject: "user-1", Audience: "catalog", SessionID: "sid", OrigIssuedAt: tt.orig})
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			var got int64
			if c.OrigIssuedAt != nil {
				got = c.OrigIssuedAt.Unix()
			}
			if got != tt.want || (tt.want == 0 && c.OrigIssuedAt != nil) {
				t.Errorf("orig_iat %v, want %d", c.OrigIssuedAt, tt.want)
			}
		})
	}
	if _, _, err := s.Mint(Claims{Subject: "user-1", Audience: "catalog", OrigIssuedAt: -1}); !errors.Is(err, ErrClaims) {
		t.Errorf("negative orig_iat: %v, want ErrClaims", err)
	}
}

// TestExpiredTokenRefused: a gateway token is refused once exp has passed
// (beyond jwtauth's leeway).
func TestExpiredTokenRefused(t *testing.T) {
	t.Parallel()
	cfg := configFor(t, ES256)
	cfg.Now = func() time.Time { return time.Now().Add(-2 * time.Minute) }
	s, err := NewSigner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := jwtauth.New(ctx, jwtauth.Config{Issuers: []jwtauth.IssuerConfig{{Issuer: testIssuer, JWKSURL: serveJWKS(t, s)}}, Audience: "catalog"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	tok, _, err := s.Mint(Claims{Subject: Anonymous, Audience: "catalog"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok); !errors.Is(err, jwtauth.ErrExpired) {
		t.Fatalf("err = %v; want ErrExpired", err)
	}
}
