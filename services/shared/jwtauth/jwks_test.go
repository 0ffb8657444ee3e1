package jwtauth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// jwksOnly builds a verifier trusting only issuer idp.test at url.
func jwksOnly(t *testing.T, clk *testkit.Clock, url string, refresh time.Duration) *Verifier {
	t.Helper()
	cfg := testConfig(t, clk, url)
	cfg.Issuers = cfg.Issuers[2:]
	cfg.Issuers[0].JWKSRefresh = refresh
	cfg.CacheSize = -1 // every Verify goes to the keys
	return newVerifier(t, cfg)
}

func verifyErrIs(t *testing.T, v *Verifier, tok string, want error) {
	t.Helper()
	_, err := v.Verify(context.Background(), tok)
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("Verify error = %v, want %v", err, want)
	}
}

func TestJWKSEndpointDown(t *testing.T) {
	t.Parallel()
	b := keysB()
	known := sign(t, jwt.SigningMethodRS256, b.rsa, kidRSA, claims(issJWKS))
	unknown := sign(t, jwt.SigningMethodRS256, keysC().rsa, "rotated-1", claims(issJWKS))
	for _, tt := range []struct {
		name string
		down func(s *jwksServer)
	}{
		{name: "answers 503", down: func(s *jwksServer) { s.set(http.StatusServiceUnavailable, []byte("down")) }},
		{name: "connection refused", down: func(s *jwksServer) { s.Close() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newJWKSServer(t, defaultJWKS())
			clk := newClock()
			v := jwksOnly(t, clk, s.URL, time.Hour)
			verifyErrIs(t, v, known, nil)
			tt.down(s)
			clk.Advance(time.Minute) // allow an unknown-kid refetch
			// The refetch failed: the kid may exist (a rotation), so the
			// keys are unavailable rather than the key unknown; within the
			// rate limit the failed fetch still decides.
			verifyErrIs(t, v, unknown, ErrNotReady)
			verifyErrIs(t, v, unknown, ErrNotReady)
			verifyErrIs(t, v, known, nil)
			if err := v.Ready(); err != nil {
				t.Fatalf("Ready after failed refetch: %v", err)
			}
		})
	}
}

func TestJWKSBackgroundRefresh(t *testing.T) {
	t.Parallel()
	b, c := keysB(), keysC()
	s := newJWKSServer(t, defaultJWKS())
	v := jwksOnly(t, newClock(), s.URL, 5*time.Millisecond)
	src := v.jwks[0]
	// Failing refreshes keep the last good key set.
	s.set(http.StatusOK, []byte("<html>oops</html>"))
	h := s.hits.Load()
	testkit.WaitFor(t, "two failed refreshes", func() bool { return s.hits.Load() >= h+2 })
	verifyErrIs(t, v, sign(t, jwt.SigningMethodRS256, b.rsa, kidRSA, claims(issJWKS)), nil)
	// A rotated key set is picked up without any unknown-kid refetch.
	s.set(http.StatusOK, jwksBody(jwkJSON("rot-2", "", "", &c.rsa.PublicKey)))
	testkit.WaitFor(t, "rotated key", func() bool { _, ok := src.keys.Load().find("rot-2", "RS256"); return ok })
	verifyErrIs(t, v, sign(t, jwt.SigningMethodRS256, c.rsa, "rot-2", claims(issJWKS)), nil)
	verifyErrIs(t, v, sign(t, jwt.SigningMethodRS256, b.rsa, kidRSA, claims(issJWKS)), ErrUnknownKey)
}

func TestJWKSGarbage(t *testing.T) {
	t.Parallel()
	b := keysB()
	small, err := rsa.GenerateKey(testRand{}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	known := sign(t, jwt.SigningMethodRS256, b.rsa, kidRSA, claims(issJWKS))
	garbage := []struct {
		name string
		body []byte
	}{
		{name: "html", body: []byte("<html>502 Bad Gateway</html>")},
		{name: "empty", body: nil},
		{name: "json without keys", body: []byte(`{"foo":1}`)},
		{name: "empty key list", body: []byte(`{"keys":[]}`)},
		{name: "only a symmetric key", body: []byte(`{"keys":[{"kty":"oct","kid":"rsa-1","k":"c2VjcmV0"}]}`)},
		{name: "only encryption keys", body: jwksBody(jwkJSON(kidRSA, "", "enc", &b.rsa.PublicKey))},
		{name: "only a 1024-bit RSA key", body: jwksBody(jwkJSON(kidRSA, "", "", &small.PublicKey))},
		{name: "RSA key claiming HS256", body: jwksBody(jwkJSON(kidRSA, "HS256", "", &b.rsa.PublicKey))},
		{name: "RSA key claiming none", body: jwksBody(jwkJSON(kidRSA, "none", "", &b.rsa.PublicKey))},
		{name: "malformed RSA modulus", body: []byte(`{"keys":[{"kty":"RSA","kid":"rsa-1","n":"!!!","e":"AQAB"}]}`)},
		{name: "EC point not on curve", body: []byte(`{"keys":[{"kty":"EC","kid":"ec-1","crv":"P-256","x":"` + b64u(make([]byte, 32)) + `","y":"` + b64u(make([]byte, 32)) + `"}]}`)},
	}
	for _, g := range garbage {
		t.Run("at start: "+g.name, func(t *testing.T) {
			t.Parallel()
			s := newJWKSServer(t, g.body)
			clk := newClock()
			v := jwksOnly(t, clk, s.URL, time.Hour)
			if err := v.Ready(); !errors.Is(err, ErrNotReady) {
				t.Fatalf("Ready = %v, want ErrNotReady", err)
			}
			verifyErrIs(t, v, known, ErrNotReady)
			// Once the endpoint recovers, the next allowed refetch loads the keys.
			s.set(http.StatusOK, defaultJWKS())
			clk.Advance(DefaultJWKSRefetch)
			verifyErrIs(t, v, known, nil)
			if err := v.Ready(); err != nil {
				t.Fatalf("Ready after recovery: %v", err)
			}
		})
		t.Run("after good keys: "+g.name, func(t *testing.T) {
			t.Parallel()
			s := newJWKSServer(t, defaultJWKS())
			clk := newClock()
			v := jwksOnly(t, clk, s.URL, time.Hour)
			s.set(http.StatusOK, g.body)
			clk.Advance(DefaultJWKSRefetch)
			h := s.hits.Load()
			verifyErrIs(t, v, sign(t, jwt.SigningMethodRS256, b.rsa, "other", claims(issJWKS)), ErrUnknownKey)
			if s.hits.Load() != h+1 {
				t.Fatalf("unknown kid did not refetch the garbage")
			}
			verifyErrIs(t, v, known, nil)
		})
	}
}

// testRand is a deterministic-enough reader for a throwaway small key.
type testRand struct{}

func (testRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return len(p), nil
}

func TestJWKSUnknownKidRefetchRateLimit(t *testing.T) {
	t.Parallel()
	c := keysC()
	s := newJWKSServer(t, defaultJWKS())
	clk := newClock()
	v := jwksOnly(t, clk, s.URL, time.Hour)
	if got := s.hits.Load(); got != 1 {
		t.Fatalf("hits after New = %d, want 1", got)
	}
	rotated := sign(t, jwt.SigningMethodRS256, c.rsa, "rot-1", claims(issJWKS))

	// Many concurrent unknown kids: one refetch.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			tok := sign(t, jwt.SigningMethodRS256, c.rsa, "unknown-"+string(rune('a'+i)), claims(issJWKS))
			_, _ = v.Verify(context.Background(), tok)
		})
	}
	wg.Wait()
	if got := s.hits.Load(); got != 2 {
		t.Fatalf("hits after 20 unknown kids = %d, want 2", got)
	}
	// The key is published now, but within 30 s no further refetch happens.
	s.set(http.StatusOK, jwksBody(jwkJSON("rot-1", "", "", &c.rsa.PublicKey)))
	clk.Advance(DefaultJWKSRefetch - time.Second)
	verifyErrIs(t, v, rotated, ErrUnknownKey)
	if got := s.hits.Load(); got != 2 {
		t.Fatalf("hits within 30 s = %d, want 2", got)
	}
	// After 30 s, one refetch finds the new key.
	clk.Advance(time.Second)
	verifyErrIs(t, v, rotated, nil)
	verifyErrIs(t, v, rotated, nil)
	if got := s.hits.Load(); got != 3 {
		t.Fatalf("hits after 30 s = %d, want 3", got)
	}
}

func TestJWKSKeyAlgorithmBinding(t *testing.T) {
	t.Parallel()
	b := keysB()
	s := newJWKSServer(t, jwksBody(
		jwkJSON("rs384", "RS384", "sig", &b.rsa.PublicKey),
		jwkJSON("ed", "", "", b.ed.Public()),
		jwkJSON("enc", "", "enc", &b.ec.PublicKey),
	))
	v := jwksOnly(t, newClock(), s.URL, time.Hour)
	for _, tt := range []struct {
		name    string
		m       jwt.SigningMethod
		key     any
		kid     string
		wantErr error
	}{
		{name: "alg from jwk honoured", m: jwt.SigningMethodRS384, key: b.rsa, kid: "rs384"},
		{name: "same key with another alg refused", m: jwt.SigningMethodRS256, key: b.rsa, kid: "rs384", wantErr: ErrUnknownKey},
		{name: "PS384 with RS384 key refused", m: jwt.SigningMethodPS384, key: b.rsa, kid: "rs384", wantErr: ErrUnknownKey},
		{name: "OKP key implies EdDSA", m: jwt.SigningMethodEdDSA, key: b.ed, kid: "ed"},
		{name: "use=enc key never verifies", m: jwt.SigningMethodES256, key: b.ec, kid: "enc", wantErr: ErrUnknownKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			verifyErrIs(t, v, sign(t, tt.m, tt.key, tt.kid, claims(issJWKS)), tt.wantErr)
		})
	}
}

func TestJWKSAlgorithmsRestrict(t *testing.T) {
	t.Parallel()
	b := keysB()
	s := newJWKSServer(t, defaultJWKS())
	cfg := testConfig(t, newClock(), s.URL)
	cfg.Issuers = cfg.Issuers[2:]
	cfg.Issuers[0].Algorithms = []string{"ES256"}
	v := newVerifier(t, cfg)
	verifyErrIs(t, v, sign(t, jwt.SigningMethodES256, b.ec, kidEC, claims(issJWKS)), nil)
	verifyErrIs(t, v, sign(t, jwt.SigningMethodRS256, b.rsa, kidRSA, claims(issJWKS)), ErrSignature)
}

func TestCloseStopsRefresh(t *testing.T) {
	t.Parallel()
	s := newJWKSServer(t, defaultJWKS())
	ctx, cancel := context.WithCancel(context.Background())
	cfg := testConfig(t, newClock(), s.URL)
	cfg.Issuers[2].JWKSRefresh = time.Millisecond
	v, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	v.Close() // returns only once the refresh goroutine has ended
	h := s.hits.Load()
	v.Close() // idempotent
	if got := s.hits.Load(); got != h {
		t.Fatalf("refresh continued after Close: %d -> %d", h, got)
	}
}

// TestJWKSRefusesDowngradeRedirect: a JWKS configured over https is never
// taken from a plain-http location it redirects to (anyone on the path
// could have written it).
func TestJWKSRefusesDowngradeRedirect(t *testing.T) {
	t.Parallel()
	plain := newJWKSServer(t, defaultJWKS())
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.URL, http.StatusFound))
	t.Cleanup(tlsSrv.Close)
	clk := newClock()
	cfg := testConfig(t, clk, tlsSrv.URL)
	cfg.Issuers = cfg.Issuers[2:]
	cfg.HTTPClient = tlsSrv.Client()
	v := newVerifier(t, cfg)
	if err := v.Ready(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Ready = %v, want ErrNotReady (keys must not load over the downgrade)", err)
	}
	verifyErrIs(t, v, sign(t, jwt.SigningMethodRS256, keysB().rsa, kidRSA, claims(issJWKS)), ErrNotReady)
}

// TestJWKSBoundedFetch: an oversized key set is refused (never parsed), and
// a JWKS endpoint that never answers cannot hold a request past the fetch
// timeout; either way the last good key set keeps serving.
func TestJWKSBoundedFetch(t *testing.T) {
	t.Parallel()
	b := keysB()
	known := sign(t, jwt.SigningMethodRS256, b.rsa, kidRSA, claims(issJWKS))
	unknown := sign(t, jwt.SigningMethodRS256, keysC().rsa, "rotated-1", claims(issJWKS))

	t.Run("oversized body", func(t *testing.T) {
		t.Parallel()
		// Valid JSON holding the key, padded past the 1 MiB limit.
		body := append(bytes.Repeat([]byte(" "), maxJWKSSize), defaultJWKS()...)
		s := newJWKSServer(t, body)
		v := jwksOnly(t, newClock(), s.URL, time.Hour)
		if err := v.Ready(); !errors.Is(err, ErrNotReady) {
			t.Fatalf("Ready = %v, want ErrNotReady", err)
		}
		verifyErrIs(t, v, known, ErrNotReady)
	})

	t.Run("endpoint that never answers", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		var slow atomic.Bool
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if slow.Load() {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			_, _ = w.Write(defaultJWKS())
		}))
		t.Cleanup(s.Close)
		t.Cleanup(func() { close(release) })
		clk := newClock()
		v := jwksOnly(t, clk, s.URL, time.Hour)
		v.issuers[issJWKS].jwks.timeout = 50 * time.Millisecond
		slow.Store(true)
		clk.Advance(time.Minute) // allow an unknown-kid refetch
		done := make(chan struct{})
		go func() {
			defer close(done)
			verifyErrIs(t, v, unknown, ErrNotReady) // timed out: keys unavailable
			verifyErrIs(t, v, known, nil)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second): // liveness only (under the client's own 10 s): the fetch is bounded at 50 ms
			t.Fatal("Verify still blocked on a JWKS endpoint that never answers")
		}
	})
}
