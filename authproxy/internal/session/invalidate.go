package session

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Messages on the invalidation channel. Each names what every Cached
// subscribed to the channel drops on receipt: "s:<id>" one session (id is
// the tag that names its record, SessionInfo.ID), "u:<user tag>" every
// session of a user. "p:<random>" are Cached's health probes, which change
// nothing; any other message empties the cache.
const (
	msgSession = "s:"
	msgUser    = "u:"
	msgProbe   = "p:"
)

// Invalidator publishes invalidations on a Redis channel: every Cached
// subscribed to it (every replica) drops the named entries at once. Cached
// publishes through one; a process that keeps no cache (authproxy sessions
// revoke) uses its own on the same channel.
type Invalidator struct {
	rdb     redis.UniversalClient
	channel string
}

// NewInvalidator returns an Invalidator publishing on channel through rdb;
// "" = DefaultChannel.
func NewInvalidator(rdb redis.UniversalClient, channel string) *Invalidator {
	if channel == "" {
		channel = DefaultChannel
	}
	return &Invalidator{rdb: rdb, channel: channel}
}

// Session tells every replica to drop the session id names (its tag).
func (i *Invalidator) Session(ctx context.Context, id string) error {
	return i.publish(ctx, msgSession+id)
}

// User tells every replica to drop every session of userID.
func (i *Invalidator) User(ctx context.Context, userID string) error {
	return i.publish(ctx, msgUser+userTag(userID))
}

// publish sends msg; errors wrap ErrUnavailable.
func (i *Invalidator) publish(ctx context.Context, msg string) error {
	if err := i.rdb.Publish(ctx, i.channel, msg).Err(); err != nil {
		return storeErr("invalidate", err)
	}
	return nil
}
