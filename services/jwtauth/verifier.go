package jwtauth

import (
	"context"
	"errors"
	"time"
)

const (
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultCacheSize is the default number of verified tokens cached.
	DefaultCacheSize = 10000
	// DefaultJWKSRefresh is the default background JWKS refresh interval.
	DefaultJWKSRefresh = 5 * time.Minute
	// MaxTokenSize is the largest token accepted; larger ones are rejected before parsing.
	MaxTokenSize = 8 << 10
)

// Verifier verifies bearer tokens against a set of trusted issuers.
type Verifier struct{}

// New validates cfg and builds a Verifier.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	return nil, errors.New("jwtauth: new: not implemented")
}

// Verify verifies token and returns its claims.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	return nil, ErrInvalidToken
}

// Ready reports whether every issuer's keys are loaded.
func (v *Verifier) Ready() error { return ErrNotReady }

// Close stops background JWKS refreshes.
func (v *Verifier) Close() {}
