package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// EventMarks remembers, in Redis, the ids of webhook events already
// handled, so that a redelivered event is not handled twice (key
// "<prefix>:ev:<sha256 of the id>", expiring after the ttl given).
type EventMarks struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewEventMarks returns the marks kept through client; prefix "" =
// DefaultPrefix.
func NewEventMarks(client redis.UniversalClient, prefix string) *EventMarks {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &EventMarks{rdb: client, prefix: prefix}
}

func (m *EventMarks) key(id string) string {
	h := sha256.Sum256([]byte(id))
	return m.prefix + ":ev:" + b64.EncodeToString(h[:])
}

// Seen reports whether id was marked and has not expired.
func (m *EventMarks) Seen(ctx context.Context, id string) (bool, error) {
	n, err := m.rdb.Exists(ctx, m.key(id)).Result()
	if err != nil {
		return false, fmt.Errorf("session: event seen: %w", err)
	}
	return n == 1, nil
}

// Mark records id for ttl.
func (m *EventMarks) Mark(ctx context.Context, id string, ttl time.Duration) error {
	if id == "" || ttl <= 0 {
		return errors.New("session: mark event: empty id or non-positive ttl")
	}
	if err := m.rdb.Set(ctx, m.key(id), 1, ttl).Err(); err != nil {
		return fmt.Errorf("session: mark event: %w", err)
	}
	return nil
}
