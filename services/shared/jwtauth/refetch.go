package jwtauth

import (
	"context"
	"fmt"
)

// Refetch fetches the JWKS of the trusted issuer iss now, past the refetch
// rate limit, for a caller told that the issuer's keys changed (FusionAuth's
// jwt.public-key.update webhook event). On failure the last good key set
// stays in force. An issuer with static keys has nothing to refetch.
// Errors wrap ErrUntrustedIssuer, or are the fetch's.
func (v *Verifier) Refetch(ctx context.Context, iss string) error {
	is, ok := v.issuers[iss]
	if !ok {
		return ErrUntrustedIssuer
	}
	if is.jwks == nil {
		return nil
	}
	if err := is.jwks.fetch(ctx); err != nil {
		return fmt.Errorf("jwtauth: refetch %q: %w", iss, err)
	}
	return nil
}
