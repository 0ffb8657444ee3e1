package session

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for Config.
const (
	DefaultLifetime    = 12 * time.Hour
	DefaultIdleTimeout = time.Hour
	DefaultPrefix      = "gw"
	maxTouchInterval   = time.Minute
)

const (
	ownerInfo = "gatewarden session owner v1"
	ownerLen  = 16
)

// Config configures a RedisStore.
type Config struct {
	Client      redis.UniversalClient // required
	Lifetime    time.Duration         // absolute lifetime; 0 = DefaultLifetime
	IdleTimeout time.Duration         // 0 = DefaultIdleTimeout
	// TouchInterval: Load rewrites LastSeen only when it is older than this.
	// 0 = min(IdleTimeout/10, 1m).
	TouchInterval time.Duration
	Prefix        string // key prefix; "" = DefaultPrefix
	// RevocationRetention is how long an ended session's or user's
	// revocation is published (revoke.go): at least the lifetime of the
	// longest token it may match. 0 = DefaultRevocationRetention.
	RevocationRetention time.Duration
	Now                 func() time.Time // nil = time.Now
	Logger              *slog.Logger     // nil = discard
}

// RedisStore keeps sessions in Redis (standalone, Sentinel or Cluster).
type RedisStore struct {
	rdb    redis.UniversalClient
	limits Limits
	touch  time.Duration
	prefix string
	now    func() time.Time
	log    *slog.Logger
	// retention: how long a revocation is kept (revoke.go).
	retention time.Duration
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore checks cfg and returns the store.
func NewRedisStore(cfg Config) (*RedisStore, error) {
	if cfg.Client == nil {
		return nil, errors.New("session: new store: nil redis client")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.RevocationRetention == 0 {
		cfg.RevocationRetention = DefaultRevocationRetention
	}
	if cfg.Lifetime < 0 || cfg.IdleTimeout < 0 || cfg.TouchInterval < 0 || cfg.RevocationRetention < 0 {
		return nil, errors.New("session: new store: negative duration")
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = min(cfg.IdleTimeout/10, maxTouchInterval)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &RedisStore{
		rdb:    cfg.Client,
		limits: Limits{Lifetime: cfg.Lifetime, IdleTimeout: cfg.IdleTimeout},
		touch:  cfg.TouchInterval,
		prefix: cfg.Prefix,
		now:    cfg.Now,
		log:    cfg.Logger,

		retention: cfg.RevocationRetention,
	}, nil
}

// Limits returns the store's lifetime rules (used by Cached).
func (s *RedisStore) Limits() Limits { return s.limits }

// Ping reports whether Redis answers (wrapping ErrUnavailable); for /readyz.
func (s *RedisStore) Ping(ctx context.Context) error { return ping(ctx, s.rdb) }

func (s *RedisStore) sessionKey(p *cookieParts) string { return s.sessionKeyFromTag(p.tag()) }

func (s *RedisStore) lockKey(p *cookieParts) string { return s.lockKeyFromTag(p.tag()) }

func userTag(userID string) string {
	h := sha256.Sum256([]byte("gatewarden user v1\x00" + userID))
	return b64.EncodeToString(h[:])
}

func (s *RedisStore) userKey(userID string) string {
	return s.prefix + ":{u:" + userTag(userID) + "}:idx"
}

func (s *RedisStore) sessionKeyFromTag(tag string) string {
	return s.prefix + ":{" + tag + "}:s"
}

func (s *RedisStore) lockKeyFromTag(tag string) string {
	return s.prefix + ":{" + tag + "}:lock"
}

// ownerTag is a one-way tag of the cookie's secret stored in front of the
// sealed record, so Save can check in Redis (one script, one round trip)
// that the writer holds the secret. It reveals nothing that opens the record.
func ownerTag(p *cookieParts) []byte {
	tag, _ := hkdf.Key(sha256.New, p.secret[:], p.hash[:], ownerInfo, ownerLen) // cannot fail for this length
	return tag
}

// sealSession returns ownerTag || Seal(JSON), sealed for PurposeSession
// with the Redis key and the tag as additional data.
func (s *RedisStore) sealSession(p *cookieParts, key string, sess *Session) ([]byte, error) {
	plain, err := encodeSession(sess)
	if err != nil {
		return nil, err
	}
	sealer, err := NewSealer(p.secret[:], p.hash[:], PurposeSession)
	if err != nil {
		return nil, err
	}
	tag := ownerTag(p)
	return append(tag, sealer.Seal(sessionAAD(key, tag), plain)...), nil
}

// sessionAAD is the record's additional data: Redis key || owner tag.
func sessionAAD(key string, tag []byte) []byte {
	return append(append(make([]byte, 0, len(key)+len(tag)), key...), tag...)
}

func openSession(p *cookieParts, key string, raw []byte) (*Session, error) {
	if len(raw) < ownerLen {
		return nil, errOpen
	}
	sealer, err := NewSealer(p.secret[:], p.hash[:], PurposeSession)
	if err != nil {
		return nil, err
	}
	// The tag is authenticated too (additional data = key || tag).
	plain, err := sealer.Open(sessionAAD(key, raw[:ownerLen]), raw[ownerLen:])
	if err != nil {
		return nil, err
	}
	var sess Session
	if err := decodeSession(plain, &sess); err != nil {
		return nil, errOpen
	}
	return &sess, nil
}

// Create implements Store.
func (s *RedisStore) Create(ctx context.Context, sess *Session) (string, error) {
	if sess.UserID == "" {
		return "", errors.New("session: create: empty user id")
	}
	now := s.now()
	sess.CreatedAt, sess.LastSeen = now, now
	cookie, p := newCookie()
	key := s.sessionKey(p)
	val, err := s.sealSession(p, key, sess)
	if err != nil {
		return "", fmt.Errorf("session: create: %w", err)
	}
	abs := now.Add(s.limits.Lifetime)
	idx := s.userKey(sess.UserID)
	// Index first, then the record: a record never exists unindexed
	// (DeleteUser must find it); a failed SET leaves a dangling member that
	// expires from the index by its score. Different slots: a pipeline, not
	// a transaction.
	_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.ZAdd(ctx, idx, redis.Z{Score: float64(abs.UnixMilli()), Member: p.tag()})
		pipe.ZRemRangeByScore(ctx, idx, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
		pipe.PExpire(ctx, idx, s.limits.Lifetime)
		pipe.Set(ctx, key, val, s.limits.ttl(sess, now))
		if sid := AccessTokenSID(sess.AccessToken); sid != "" {
			pipe.Set(ctx, s.atSIDKeyFromTag(p.tag()), sid, s.limits.Lifetime)
		}
		return nil
	})
	if err != nil {
		return "", storeErr("create", err)
	}
	return cookie, nil
}

// load fetches and opens the record; it returns the raw value for CAS.
func (s *RedisStore) load(ctx context.Context, op string, p *cookieParts) (*Session, []byte, error) {
	key := s.sessionKey(p)
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if isNil(err) {
		return nil, nil, fmt.Errorf("session: %s: %w", op, ErrNotFound)
	}
	if err != nil {
		return nil, nil, storeErr(op, err)
	}
	sess, err := openSession(p, key, raw)
	if err != nil {
		// Wrong secret or tampered record: not the owner. Leave it.
		return nil, nil, fmt.Errorf("session: %s: %w", op, ErrNotFound)
	}
	return sess, raw, nil
}

// touchScript rewrites the record only if it is still the one we read, so a
// touch never undoes a concurrent Save (e.g. a rotated refresh token).
var touchScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return false`)

// Load implements Store. One GET; when LastSeen is older than the touch
// interval, a second (compare-and-set) round trip updates it.
func (s *RedisStore) Load(ctx context.Context, cookie string) (*Session, error) {
	p, err := parseCookie(cookie)
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	sess, raw, err := s.load(ctx, "load", p)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.limits.Check(sess, now); err != nil {
		s.remove(ctx, p, sess.UserID)
		return nil, fmt.Errorf("session: load: %w", err)
	}
	if now.Sub(sess.LastSeen) >= s.touch {
		s.touchRecord(ctx, p, sess, raw, now)
	}
	return sess, nil
}

func (s *RedisStore) touchRecord(ctx context.Context, p *cookieParts, sess *Session, raw []byte, now time.Time) {
	old := sess.LastSeen
	sess.LastSeen = now
	key := s.sessionKey(p)
	val, err := s.sealSession(p, key, sess)
	if err == nil {
		ms := s.limits.ttl(sess, now).Milliseconds()
		err = touchScript.Run(ctx, s.rdb, []string{key}, raw, val, max(ms, 1)).Err()
		if isNil(err) { // record changed meanwhile: the newer write wins
			err = nil
		}
	}
	if err != nil {
		// The request still succeeds; the record keeps the older LastSeen.
		sess.LastSeen = old
		s.log.WarnContext(ctx, "session touch failed", slog.String("error", err.Error()))
	}
}

// remove deletes the record and its index entry (best effort).
func (s *RedisStore) remove(ctx context.Context, p *cookieParts, userID string) {
	_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, s.sessionKey(p))
		pipe.ZRem(ctx, s.userKey(userID), p.tag())
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "session remove failed", slog.String("error", err.Error()))
	}
}

// saveScript replaces the record only if it exists (no resurrection) and
// carries the writer's owner tag (only the cookie's holder writes); with
// the record, it sets the access token's sid (KEYS[2], same slot) when
// ARGV[5] is not empty, so a revocation by tag names the token in force.
var saveScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if string.sub(v, 1, tonumber(ARGV[4])) ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if ARGV[5] ~= '' then redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6]) end
return 1`)

// Save implements Store in one round trip (a script). A cookie whose secret
// does not match the record gets ErrNotFound and changes nothing.
func (s *RedisStore) Save(ctx context.Context, cookie string, sess *Session) error {
	p, err := parseCookie(cookie)
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	now := s.now()
	if err := s.limits.Check(sess, now); err != nil {
		// Not deleted here: the cookie's secret is unchecked so far. The
		// next Load deletes it.
		return fmt.Errorf("session: save: %w", err)
	}
	key := s.sessionKey(p)
	val, err := s.sealSession(p, key, sess)
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	ms := max(s.limits.ttl(sess, now).Milliseconds(), 1)
	// A refresh may bring an access token of another refresh token id
	// (rotation): the sid kept for revocations follows it.
	atMS := max(sess.CreatedAt.Add(s.limits.Lifetime).Sub(now).Milliseconds(), 1)
	n, err := saveScript.Run(ctx, s.rdb, []string{key, s.atSIDKeyFromTag(p.tag())},
		ownerTag(p), val, ms, ownerLen, AccessTokenSID(sess.AccessToken), atMS).Int()
	if err != nil {
		return storeErr("save", err)
	}
	if n != 1 {
		return fmt.Errorf("session: save: %w", ErrNotFound)
	}
	return nil
}

// Delete implements Store. The cookie's secret must open the record (only
// the owner logs a session out). Before the record goes, the session's
// tokens are revoked (its SID and its access token's sid, see revoke.go):
// a failure to record that is returned and deletes nothing.
func (s *RedisStore) Delete(ctx context.Context, cookie string) error {
	p, err := parseCookie(cookie)
	if err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	sess, _, err := s.load(ctx, "delete", p)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		// Missing record: done. Present but unopenable: not the owner.
		n, xerr := s.rdb.Exists(ctx, s.sessionKey(p)).Result()
		if xerr != nil {
			return storeErr("delete", xerr)
		}
		if n == 0 {
			return nil
		}
		return err
	default:
		return err
	}
	if err := s.revoke(ctx, "delete", []string{sidFromHash(p.hash[:]), AccessTokenSID(sess.AccessToken)}, ""); err != nil {
		return err
	}
	_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, s.sessionKey(p), s.lockKey(p), s.atSIDKeyFromTag(p.tag()))
		pipe.ZRem(ctx, s.userKey(sess.UserID), p.tag())
		return nil
	})
	if err != nil {
		return storeErr("delete", err)
	}
	return nil
}

// DeleteUser implements Store: DeleteUserSessions without the list.
func (s *RedisStore) DeleteUser(ctx context.Context, userID string) error {
	_, err := s.DeleteUserSessions(ctx, userID)
	return err
}
