package jwtauth

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestOnJWKSFetch: the hook sees every fetch with its issuer and error: the
// one at start (ok), then an unknown-kid refetch against a failing endpoint.
func TestOnJWKSFetch(t *testing.T) {
	t.Parallel()
	type call struct {
		issuer string
		failed bool
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	s := newJWKSServer(t, defaultJWKS())
	clk := newClock()
	cfg := testConfig(t, clk, s.URL)
	cfg.Issuers = cfg.Issuers[2:]
	cfg.CacheSize = -1
	cfg.OnJWKSFetch = func(issuer string, err error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{issuer, err != nil})
	}
	v := newVerifier(t, cfg)
	s.set(http.StatusServiceUnavailable, []byte("down"))
	clk.Advance(time.Minute)
	verifyErrIs(t, v, sign(t, jwt.SigningMethodRS256, keysC().rsa, "rotated-1", claims(issJWKS)), ErrNotReady)
	mu.Lock()
	defer mu.Unlock()
	want := []call{{issJWKS, false}, {issJWKS, true}}
	if len(calls) != len(want) || calls[0] != want[0] || calls[1] != want[1] {
		t.Fatalf("OnJWKSFetch calls = %+v, want %+v", calls, want)
	}
}
