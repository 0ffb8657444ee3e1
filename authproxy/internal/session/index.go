package session

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// SessionInfo is what an operator may see of an indexed session: the id
// that names its record, never anything that opens it.
type SessionInfo struct {
	// ID is the session's tag, base64url(SHA-256(cookie id)): it names the
	// record in Redis and the session in invalidation messages, and opens
	// nothing.
	ID string
	// Expires is the absolute expiry, the user index's score.
	Expires time.Time
	// IdleExpires is when Redis drops the record unless the session is
	// used: now plus the record's TTL (the earlier of the idle and the
	// absolute expiry). It is zero when the record is gone (expired idle)
	// but still indexed.
	IdleExpires time.Time
}

// Live reports whether the session's record exists.
func (i SessionInfo) Live() bool { return !i.IdleExpires.IsZero() }

// UserSessions returns every session in userID's index by absolute expiry
// (then id): the live ones, and those whose record is gone but still
// indexed (Live false). It only reads: those entries leave the index when
// the user next logs in after their absolute expiry, with the index itself
// a lifetime after the last login, or with DeleteUserSessions; removing
// them here could race a Create in flight (index first, then record) and
// leave a live session unindexed. A user without sessions gets none and no
// error.
func (s *RedisStore) UserSessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.userKey(userID), 0, -1).Result()
	if err != nil {
		return nil, storeErr("user sessions", err)
	}
	if len(zs) == 0 {
		return nil, nil
	}
	out := make([]SessionInfo, len(zs))
	ttls := make([]*redis.DurationCmd, len(zs))
	_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, z := range zs {
			out[i] = SessionInfo{ID: fmt.Sprint(z.Member), Expires: time.UnixMilli(int64(z.Score)).UTC()}
			ttls[i] = pipe.PTTL(ctx, s.sessionKeyFromTag(out[i].ID))
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("user sessions", err)
	}
	now := s.now()
	for i := range out {
		switch ttl := ttls[i].Val(); {
		case ttl >= 0:
			out[i].IdleExpires = now.Add(ttl)
		case ttl == -1: // a record without a TTL (authproxy writes none): its absolute expiry
			out[i].IdleExpires = out[i].Expires
		} // -2: no record
	}
	return out, nil
}

// DeleteSession ends one session of userID, named by its id
// (SessionInfo.ID): its tokens are revoked (its SID and its access
// token's sid, revoke.go; a failure deletes nothing), then its record and
// lock go, then its index entry.
// ErrNotFound when the user's index does not hold id (unknown, or another
// user's session: nothing is deleted) or its record was already gone (the
// stale entry is removed all the same).
func (s *RedisStore) DeleteSession(ctx context.Context, userID, id string) error {
	idx := s.userKey(userID)
	err := s.rdb.ZScore(ctx, idx, id).Err()
	if isNil(err) {
		return fmt.Errorf("session: delete session: %w", ErrNotFound)
	}
	if err != nil {
		return storeErr("delete session", err)
	}
	atSID, err := s.rdb.Get(ctx, s.atSIDKeyFromTag(id)).Result()
	if err != nil && !isNil(err) {
		return storeErr("delete session", err)
	}
	if err := s.revoke(ctx, "delete session", []string{sidFromTag(id), atSID}, ""); err != nil {
		return err
	}
	var record *redis.IntCmd
	_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		record = pipe.Del(ctx, s.sessionKeyFromTag(id))
		pipe.Del(ctx, s.atSIDKeyFromTag(id))
		pipe.Del(ctx, s.lockKeyFromTag(id))
		pipe.ZRem(ctx, idx, id)
		return nil
	})
	if err != nil {
		return storeErr("delete session", err)
	}
	if record.Val() == 0 {
		return fmt.Errorf("session: delete session: %w", ErrNotFound)
	}
	return nil
}

// DeleteUserSessions first revokes every token of userID issued until now
// (revoke.go; a failure deletes nothing), then deletes every session in
// userID's index (record and refresh lock), then removes from the index
// exactly the members whose record it deleted. It returns their ids (the
// sessions it ended), by absolute expiry. The revocation is recorded even
// when the index is empty: the user's tokens may have been forwarded
// before their sessions expired.
//
// A member whose record did not exist stays indexed: it may be a session
// whose Create has written its index entry but not yet its record (two
// slots, no transaction), and removing the entry would leave that session
// live and unindexed, out of reach of every later revocation. Members of
// records that expired leave the index by their score (Create trims it).
func (s *RedisStore) DeleteUserSessions(ctx context.Context, userID string) ([]string, error) {
	if err := s.revoke(ctx, "delete user", nil, userID); err != nil {
		return nil, err
	}
	idx := s.userKey(userID)
	tags, err := s.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, storeErr("delete user", err)
	}
	if len(tags) == 0 {
		return nil, nil
	}
	records := make([]*redis.IntCmd, len(tags))
	_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, t := range tags {
			// One DEL per key: the sessions live in different slots.
			records[i] = pipe.Del(ctx, s.sessionKeyFromTag(t))
			pipe.Del(ctx, s.lockKeyFromTag(t), s.atSIDKeyFromTag(t))
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("delete user", err)
	}
	var ended []string
	var members []any
	for i, r := range records {
		if r.Val() > 0 {
			ended = append(ended, tags[i])
			members = append(members, tags[i])
		}
	}
	if len(members) > 0 {
		if err := s.rdb.ZRem(ctx, idx, members...).Err(); err != nil {
			return ended, storeErr("delete user", err)
		}
	}
	return ended, nil
}
