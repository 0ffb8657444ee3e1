// Package cutoff keeps the application-wide revocation cutoff. FusionAuth
// revoking every refresh token of the application (a
// jwt.refresh-token.revoke with applicationId only) voids every session
// created until then: their refresh tokens are dead, and walking every
// session to end it one by one cannot finish at scale. Instead one time is
// recorded, and a session created at or before it is refused where it
// loads.
//
// The cutoff is one Redis key, "<prefix>:{rv}:cutoff", holding unix
// milliseconds. It is only ever raised (a later revoke never lowers it),
// and expires ttl after it was set: the session lifetime or, when longer,
// the revocation retention (no session created before it, nor token issued
// before it, can be alive after that).
//
// Store wraps the session store. Its Load refuses a session whose
// CreatedAt is not after the cutoff (session.ErrNotFound) and deletes it
// through the wrapped store, so its deletion is recorded in the revocation
// feed as every deliberate end is. The cutoff is read from Redis at most
// once per Interval per replica, by the one Load that finds its copy
// older than that; every other Load compares against the copy in memory
// (an atomic read). A replica therefore refuses the voided sessions at
// most Interval after the cutoff is stored. A failed read keeps the copy
// and is retried on the next interval.
//
// The cutoff is also published in the revocation feed
// (jwtauth.RevocationFeed, member "cutoff", unix seconds): the services
// and authproxy's own bearer check refuse every token issued until then,
// but the anonymous gateway tokens, without waiting for the voided
// sessions to load. Set raises the key and increments the revocations'
// version (session.RevocationMetaKey) in one script, so a follower that
// sees the new version reads the new cutoff.
package cutoff

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// Defaults.
const (
	DefaultPrefix   = "gw"
	DefaultInterval = time.Second
)

// Cutoffs records and reads the cutoff in Redis. It is safe for
// concurrent use.
type Cutoffs struct {
	rdb  redis.UniversalClient
	key  string
	meta string // the revocations' version
	ttl  time.Duration
}

// New returns the cutoff kept through rdb under prefix ("" =
// DefaultPrefix); ttl is how long it is kept: the longer of the session
// lifetime and the revocation retention.
func New(rdb redis.UniversalClient, prefix string, ttl time.Duration) (*Cutoffs, error) {
	if rdb == nil || ttl <= 0 {
		return nil, errors.New("cutoff: new: a client and a positive ttl are required")
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Cutoffs{rdb: rdb, key: session.RevocationCutoffKey(prefix), meta: session.RevocationMetaKey(prefix), ttl: ttl}, nil
}

// raiseScript sets KEYS[1] to ARGV[1] unless it holds a later time,
// (re)sets its expiry to ARGV[2] ms, and then bumps the revocations'
// version in KEYS[2] (epoch ARGV[3] if none, ver + 1), as session's
// revocation writes do.
var raiseScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('HSETNX', KEYS[2], 'epoch', ARGV[3])
  redis.call('HINCRBY', KEYS[2], 'ver', 1)
end
return 1
`)

// Set records that every session created at or before t, and every token
// issued until then, is void.
func (c *Cutoffs) Set(ctx context.Context, t time.Time) error {
	keys := []string{c.key, c.meta}
	err := raiseScript.Run(ctx, c.rdb, keys, t.UnixMilli(), c.ttl.Milliseconds(), rand.Text()[:8]).Err()
	if err != nil {
		return fmt.Errorf("cutoff: set: %w", err)
	}
	return nil
}

// Get returns the cutoff; the zero time when none is recorded.
func (c *Cutoffs) Get(ctx context.Context) (time.Time, error) {
	v, err := c.rdb.Get(ctx, c.key).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("cutoff: get: %w", err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("cutoff: get: %w", err)
	}
	return time.UnixMilli(ms), nil
}

// Reader reads the cutoff; *Cutoffs implements it.
type Reader interface {
	Get(ctx context.Context) (time.Time, error)
}

// Config configures a Store. Store and Cutoffs are required.
type Config struct {
	Store    session.Store
	Cutoffs  Reader
	Interval time.Duration    // how often the cutoff is reread; 0 = DefaultInterval
	Now      func() time.Time // nil = time.Now
	Logger   *slog.Logger     // nil = discard
}

// Store is a session.Store whose Load refuses sessions created at or
// before the cutoff.
type Store struct {
	session.Store
	cut      Reader
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	cutoff  atomic.Int64 // unix ms, 0 = none
	next    atomic.Int64 // unix ns of the next read
	reading atomic.Bool
}

// NewStore wraps cfg.Store.
func NewStore(cfg Config) (*Store, error) {
	if cfg.Store == nil || cfg.Cutoffs == nil {
		return nil, errors.New("cutoff: new store: a store and the cutoffs are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store{Store: cfg.Store, cut: cfg.Cutoffs, interval: cfg.Interval, now: cfg.Now, log: cfg.Logger}, nil
}

// Load implements session.Store.
func (s *Store) Load(ctx context.Context, cookie string) (*session.Session, error) {
	sess, err := s.Store.Load(ctx, cookie)
	if err != nil {
		return nil, err
	}
	s.reread(ctx)
	if cut := s.cutoff.Load(); cut > 0 && sess.CreatedAt.UnixMilli() <= cut {
		if err := s.Store.Delete(ctx, cookie); err != nil {
			s.log.WarnContext(ctx, "session before the cutoff not deleted", slog.String("error", err.Error()))
		}
		return nil, fmt.Errorf("cutoff: load: created before the application-wide revocation: %w", session.ErrNotFound)
	}
	return sess, nil
}

// reread reads the cutoff when the copy is older than the interval; one
// Load at a time reads, the others keep the copy.
func (s *Store) reread(ctx context.Context) {
	now := s.now().UnixNano()
	if now < s.next.Load() || !s.reading.CompareAndSwap(false, true) {
		return
	}
	defer s.reading.Store(false)
	t, err := s.cut.Get(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "revocation cutoff not read", slog.String("error", err.Error()))
		s.next.Store(now + s.interval.Nanoseconds())
		return
	}
	if !t.IsZero() {
		s.cutoff.Store(t.UnixMilli())
	} else {
		s.cutoff.Store(0)
	}
	s.next.Store(now + s.interval.Nanoseconds())
}
