package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options selects and configures the Redis deployment.
type Options struct {
	Addrs      []string // host:port list
	MasterName string   // Sentinel master name; Addrs are then the sentinels
	Username   string
	Password   string
	DB         int         // standalone and Sentinel only (Cluster has no databases)
	TLS        *tls.Config // nil: plain TCP
	// SentinelUsername and SentinelPassword authenticate to the sentinels
	// themselves (their requirepass or ACL), with MasterName only.
	SentinelUsername string
	SentinelPassword string
	// PoolSize is the connections per node; 0 = DefaultPoolSize().
	PoolSize int
}

// DefaultPoolSize is 10 connections per GOMAXPROCS (go-redis's own
// default, made explicit): a burst of decisions, each holding a
// connection for one round trip, queues for at most PoolTimeout rather
// than opening connections without bound.
func DefaultPoolSize() int { return 10 * runtime.GOMAXPROCS(0) }

// NewRedisClient returns the go-redis UniversalClient for opts:
//
//   - MasterName set: a Sentinel (failover) client; Addrs are the sentinels.
//   - otherwise several Addrs: a Cluster client; Addrs are seed nodes.
//   - otherwise (one address): a standalone client.
//
// It does not connect; go-redis dials lazily and reconnects by itself, so a
// Redis that is down at start or restarts later needs no new client.
//
// Timeouts suit a forward-auth hot path: when Redis is down a call fails
// (ErrUnavailable, so 503) within about a second instead of go-redis's
// default multi-second retry ladder: one retry, one dial attempt per try,
// 1s dial/read/write timeouts, and the caller's context deadline honoured.
// The pool holds opts.PoolSize connections per node (DefaultPoolSize).
func NewRedisClient(opts Options) redis.UniversalClient {
	if opts.PoolSize <= 0 {
		opts.PoolSize = DefaultPoolSize()
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 opts.Addrs,
		MasterName:            opts.MasterName,
		Username:              opts.Username,
		Password:              opts.Password,
		DB:                    opts.DB,
		TLSConfig:             opts.TLS,
		SentinelUsername:      opts.SentinelUsername,
		SentinelPassword:      opts.SentinelPassword,
		PoolSize:              opts.PoolSize,
		MaxRetries:            1,
		DialerRetries:         1,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolTimeout:           time.Second,
		ContextTimeoutEnabled: true,
	})
}

// storeErr wraps a Redis failure for op. redis.Nil never reaches here.
// Everything else (dial errors, timeouts, server errors, a cancelled
// context) means the store could not answer: it wraps ErrUnavailable and
// keeps the cause.
func storeErr(op string, err error) error {
	return fmt.Errorf("session: %s: %w: %w", op, ErrUnavailable, err)
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

// ping reports whether Redis answers; for readiness checks.
func ping(ctx context.Context, c redis.UniversalClient) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return storeErr("ping", err)
	}
	return nil
}
