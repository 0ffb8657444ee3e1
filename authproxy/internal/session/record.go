package session

import (
	"context"
	"fmt"
)

// RevokeSIDs records that every token of the sessions sids is revoked
// (empty ones are skipped), without ending any session record: for an
// access token's sid, which is FusionAuth's refresh token id, when the
// identity provider revokes that one refresh token. It writes the same
// entries as a deliberate delete (revoke), so the revocation feed
// publishes them.
func (s *RedisStore) RevokeSIDs(ctx context.Context, sids ...string) error {
	return s.revoke(ctx, "revoke sids", sids, "")
}

// RevokeTag records the revocation of the session a tag names (its
// gateway-token sid and, when still known, its access token's sid), as
// DeleteSession does, whether or not the user's index still holds the
// tag: for a caller that found the tag through another record (a link)
// and got ErrNotFound from DeleteSession.
func (s *RedisStore) RevokeTag(ctx context.Context, tag string) error {
	atSID, err := s.rdb.Get(ctx, s.atSIDKeyFromTag(tag)).Result()
	if err != nil && !isNil(err) {
		return storeErr("revoke tag", err)
	}
	sid := sidFromTag(tag)
	if sid == "" {
		return fmt.Errorf("session: revoke tag: %w", ErrNotFound)
	}
	return s.revoke(ctx, "revoke tag", []string{sid, atSID}, "")
}
