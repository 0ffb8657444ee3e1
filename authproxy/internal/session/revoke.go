package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRevocationRetention is how long a revocation is kept by default:
// FusionAuth's default access-token lifetime (applicationTimeToLiveInSeconds
// 3600), the longest of the tokens a revocation may match.
const DefaultRevocationRetention = time.Hour

// revocationSkew is kept on top of the retention, for the services' clock
// leeway on exp (30 s by default).
const revocationSkew = time.Minute

// maxAccessTokenSize bounds the access token whose sid is read.
const maxAccessTokenSize = 16 << 10

// Revocations are the revoked sessions and subjects whose tokens may still
// be valid, as the revocation feed publishes them.
type Revocations struct {
	// Version changes with every recorded revocation ("" before the first).
	Version string
	// Sessions are revoked session ids: gateway-token sids (SID) and the
	// access tokens' sids (FusionAuth: the refresh token's id).
	Sessions []string
	// Subjects maps a user id to the last second (unix) up to which
	// every token issued for it is revoked.
	Subjects map[string]int64
	// Cutoff is the application-wide cutoff (package cutoff) in unix
	// seconds, rounded down: every token but the anonymous gateway tokens
	// issued until then is revoked. 0 = none.
	Cutoff int64
}

// Revocation keys, all in the {rv} slot (one transaction per write):
//
//	gw:{rv}:set    sorted set: "s:<sid>" or "u:<iat max>:<user id>" -> expiry (unix ms)
//	gw:{rv}:meta   hash: epoch (random, set once), ver (bumped by each write)
//	gw:{rv}:cutoff the application-wide cutoff (unix ms), written by package
//	               cutoff, which bumps ver in the same script
//	gw:{<tag>}:at  the session's access-token sid, so that ending a session by
//	               its tag (DeleteSession) can revoke its access tokens too
func (s *RedisStore) revocationSetKey() string  { return s.prefix + ":{rv}:set" }
func (s *RedisStore) revocationMetaKey() string { return RevocationMetaKey(s.prefix) }

// RevocationMetaKey is the key of the revocations' version under prefix
// ("" = DefaultPrefix): a write of any published revocation, the cutoff
// included, sets its "epoch" field once (HSETNX, a random 8-character
// string) and increments its "ver" field in the same transaction or script.
func RevocationMetaKey(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + ":{rv}:meta"
}

// RevocationCutoffKey is the key of the application-wide cutoff (unix ms)
// under prefix ("" = DefaultPrefix), in the meta key's slot; Revocations
// publishes it.
func RevocationCutoffKey(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + ":{rv}:cutoff"
}
func (s *RedisStore) atSIDKeyFromTag(tag string) string {
	return s.prefix + ":{" + tag + "}:at"
}

// revoke records, before a session ends, that tokens of the sessions sids
// (empty ones are skipped) and, when userID is set, every token of userID
// issued until now are revoked. Each entry expires after the retention
// (plus a minute of skew), when no token it matches can still be valid.
func (s *RedisStore) revoke(ctx context.Context, op string, sids []string, userID string) error {
	now := s.now()
	expiry := float64(now.Add(s.retention + revocationSkew).UnixMilli())
	var members []redis.Z
	for _, sid := range sids {
		if sid != "" {
			members = append(members, redis.Z{Score: expiry, Member: "s:" + sid})
		}
	}
	if userID != "" {
		members = append(members, redis.Z{Score: expiry, Member: "u:" + strconv.FormatInt(now.Unix(), 10) + ":" + userID})
	}
	if len(members) == 0 {
		return nil
	}
	set, meta := s.revocationSetKey(), s.revocationMetaKey()
	_, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.ZAdd(ctx, set, members...)
		pipe.ZRemRangeByScore(ctx, set, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
		pipe.HSetNX(ctx, meta, "epoch", rand.Text()[:8])
		pipe.HIncrBy(ctx, meta, "ver", 1)
		return nil
	})
	if err != nil {
		return storeErr(op+": record revocation", err)
	}
	return nil
}

// RevocationVersion returns the revocations' current version, one round
// trip: a feed that holds this version has nothing to read.
func (s *RedisStore) RevocationVersion(ctx context.Context) (string, error) {
	vals, err := s.rdb.HMGet(ctx, s.revocationMetaKey(), "epoch", "ver").Result()
	if err != nil {
		return "", storeErr("revocation version", err)
	}
	return revocationVersion(vals), nil
}

func revocationVersion(vals []any) string {
	epoch, _ := vals[0].(string)
	ver, _ := vals[1].(string)
	if epoch == "" || ver == "" {
		return ""
	}
	return epoch + "." + ver
}

// Revocations reads every unexpired revocation, the cutoff and their
// version in one transaction.
func (s *RedisStore) Revocations(ctx context.Context) (*Revocations, error) {
	var (
		meta    *redis.SliceCmd
		entries *redis.StringSliceCmd
		cut     *redis.StringCmd
	)
	now := strconv.FormatInt(s.now().UnixMilli(), 10)
	_, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		meta = pipe.HMGet(ctx, s.revocationMetaKey(), "epoch", "ver")
		entries = pipe.ZRangeByScore(ctx, s.revocationSetKey(), &redis.ZRangeBy{Min: now, Max: "+inf"})
		cut = pipe.Get(ctx, RevocationCutoffKey(s.prefix))
		return nil
	})
	if err != nil && !isNil(err) {
		return nil, storeErr("revocations", err)
	}
	if err := errors.Join(meta.Err(), entries.Err()); err != nil && !isNil(err) {
		return nil, storeErr("revocations", err)
	}
	out := &Revocations{Version: revocationVersion(meta.Val()), Subjects: map[string]int64{}}
	if v := cut.Val(); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			return nil, storeErr("revocations: cutoff", fmt.Errorf("not unix milliseconds: %q", v))
		}
		out.Cutoff = ms / 1000
	}
	for _, m := range entries.Val() {
		kind, rest, _ := strings.Cut(m, ":")
		switch kind {
		case "s":
			out.Sessions = append(out.Sessions, rest)
		case "u":
			at, user, ok := strings.Cut(rest, ":")
			n, err := strconv.ParseInt(at, 10, 64)
			if !ok || err != nil || user == "" {
				continue
			}
			if old, seen := out.Subjects[user]; !seen || n > old {
				out.Subjects[user] = n
			}
		}
	}
	return out, nil
}

// sidFromHash is SID for a cookie whose id hashes to hash (the tag).
func sidFromHash(hash []byte) string {
	var in [len(sidDomain) + sha256.Size]byte
	copy(in[:], sidDomain)
	copy(in[len(sidDomain):], hash)
	sum := sha256.Sum256(in[:])
	var out [partLen]byte // base64url of 32 bytes, like a cookie half
	b64.Encode(out[:], sum[:])
	return string(out[:])
}

// sidFromTag is SID for the session a tag names ("" for a malformed tag).
func sidFromTag(tag string) string {
	var h [sha256.Size]byte
	if n, err := b64.Decode(h[:], []byte(tag)); err != nil || n != len(h) {
		return ""
	}
	return sidFromHash(h[:])
}

// AccessTokenSID returns the `sid` claim of a JWT access token, read
// without verification (the token came from the identity provider's token
// endpoint): FusionAuth's refresh token id. "" for an opaque token or one
// without sid.
func AccessTokenSID(token string) string {
	if len(token) > maxAccessTokenSize {
		return ""
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var c struct {
		SID string `json:"sid"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.SID
}
