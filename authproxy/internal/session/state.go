package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrStateUsed means the login state was already spent (a replayed callback).
var ErrStateUsed = errors.New("login state already used")

// StateStore remembers which login states have been used, so a callback
// works once. The login state itself (PKCE verifier, nonce, return URL)
// travels sealed in a cookie, so starting a login writes nothing here: only
// a completed callback leaves a marker, and only until the state would have
// expired anyway.
type StateStore interface {
	// Spend marks state used for ttl (the state's remaining lifetime).
	// The first call succeeds; later ones get ErrStateUsed until ttl has
	// passed. ErrUnavailable when Redis cannot answer.
	Spend(ctx context.Context, state string, ttl time.Duration) error
}

// RedisStateStore is the Redis StateStore: one SET NX per callback. The key
// is a hash of the state, so a Redis dump does not reveal states.
type RedisStateStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ StateStore = (*RedisStateStore)(nil)

// NewStateStore returns a RedisStateStore; prefix "" = DefaultPrefix.
func NewStateStore(client redis.UniversalClient, prefix string) *RedisStateStore {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &RedisStateStore{rdb: client, prefix: prefix}
}

func (s *RedisStateStore) key(state string) string {
	h := sha256.Sum256([]byte(state))
	return s.prefix + ":st:" + b64.EncodeToString(h[:])
}

// Spend implements StateStore.
func (s *RedisStateStore) Spend(ctx context.Context, state string, ttl time.Duration) error {
	if state == "" || ttl <= 0 {
		return errors.New("session: spend state: empty state or non-positive ttl")
	}
	ok, err := s.rdb.SetNX(ctx, s.key(state), "1", ttl).Result()
	if err != nil {
		return storeErr("spend state", err)
	}
	if !ok {
		return fmt.Errorf("session: spend state: %w", ErrStateUsed)
	}
	return nil
}
