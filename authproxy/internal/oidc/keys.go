package oidc

import (
	"context"
	"fmt"
)

// RefreshKeys refetches the provider's JWKS now (FusionAuth's
// jwt.public-key.update webhook event says a signing key changed), past
// the on-demand refetch rate limit. ErrNotReady before discovery; on a
// failed fetch the keys in force stay.
func (p *Provider) RefreshKeys(ctx context.Context) error {
	d, err := p.loaded()
	if err != nil {
		return err
	}
	if err := d.verifier.Refetch(ctx, d.issuer); err != nil {
		return fmt.Errorf("oidc: refresh keys: %w", err)
	}
	return nil
}

// BackChannelLogout reports what the discovery document announced:
// backchannel_logout_supported and backchannel_logout_session_supported
// (both false before discovery).
func (p *Provider) BackChannelLogout() (supported, session bool) {
	d := p.d.Load()
	if d == nil {
		return false, false
	}
	return d.backChannel, d.backChannelSession
}
