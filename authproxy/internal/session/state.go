package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// StateStore keeps short-lived, single-use login state (PKCE verifier,
// nonce, return URL) between /oauth2/start and /oauth2/callback.
type StateStore interface {
	// Put stores value under key for ttl. key must be unguessable (the
	// OAuth state); an existing key is not overwritten (error).
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Take returns the value and deletes it in one step (GETDEL), so a
	// state works once. ErrNotFound when missing, expired or already taken.
	Take(ctx context.Context, key string) ([]byte, error)
}

const stateInfo = "gatewarden state v1"

// RedisStateStore is the Redis StateStore. The Redis key is a hash of the
// state and the value is sealed with a key derived from the state, so a
// Redis dump reveals neither the states nor their PKCE verifiers.
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

func (s *RedisStateStore) key(state string) (string, []byte) {
	h := sha256.Sum256([]byte(state))
	return s.prefix + ":st:" + b64.EncodeToString(h[:]), h[:]
}

// Put implements StateStore.
func (s *RedisStateStore) Put(ctx context.Context, state string, value []byte, ttl time.Duration) error {
	if state == "" || ttl <= 0 {
		return errors.New("session: put state: empty key or non-positive ttl")
	}
	key, salt := s.key(state)
	val, err := seal([]byte(state), salt, stateInfo, []byte(key), value)
	if err != nil {
		return fmt.Errorf("session: put state: %w", err)
	}
	ok, err := s.rdb.SetNX(ctx, key, val, ttl).Result()
	if err != nil {
		return storeErr("put state", err)
	}
	if !ok {
		return errors.New("session: put state: key exists")
	}
	return nil
}

// Take implements StateStore.
func (s *RedisStateStore) Take(ctx context.Context, state string) ([]byte, error) {
	if state == "" {
		return nil, fmt.Errorf("session: take state: %w", ErrNotFound)
	}
	key, salt := s.key(state)
	raw, err := s.rdb.GetDel(ctx, key).Bytes()
	if isNil(err) {
		return nil, fmt.Errorf("session: take state: %w", ErrNotFound)
	}
	if err != nil {
		return nil, storeErr("take state", err)
	}
	plain, err := open([]byte(state), salt, stateInfo, []byte(key), raw)
	if err != nil {
		return nil, fmt.Errorf("session: take state: %w", ErrNotFound)
	}
	return plain, nil
}
