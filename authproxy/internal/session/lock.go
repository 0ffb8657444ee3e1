package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// unlockScript deletes the lock only if we still hold it.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// renewScript extends the lock only if we still hold it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// Lock implements Store: SET NX PX with a random token. While held, a
// goroutine renews it every ttl/3 (compare-and-PEXPIRE) until release is
// called or ctx ends; release stops renewal and deletes the lock only if the
// token still matches. release is idempotent. Pass the context of the work
// the lock protects. The lock does not check the cookie's secret: take it
// after a successful Load.
func (s *RedisStore) Lock(ctx context.Context, cookie string, ttl time.Duration) (func(), error) {
	p, err := parseCookie(cookie)
	if err != nil {
		return nil, fmt.Errorf("session: lock: %w", err)
	}
	if ttl < 3*time.Millisecond {
		return nil, errors.New("session: lock: ttl too short")
	}
	key := s.lockKey(p)
	token := rand.Text()
	ok, err := s.rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, storeErr("lock", err)
	}
	if !ok {
		return nil, fmt.Errorf("session: lock: %w", ErrLocked)
	}

	stop := make(chan struct{})
	done := make(chan struct{})
	bg := context.WithoutCancel(ctx)
	go func() {
		defer close(done)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(bg, ttl/3)
			n, err := renewScript.Run(rctx, s.rdb, []string{key}, token, ttl.Milliseconds()).Int()
			cancel()
			switch {
			case err != nil:
				// Keep trying until the lock would have expired anyway.
				s.log.WarnContext(ctx, "session lock renewal failed", slog.String("error", err.Error()))
			case n == 0:
				s.log.WarnContext(ctx, "session lock lost")
				return
			}
		}
	}()

	var once sync.Once
	release := func() {
		once.Do(func() {
			close(stop)
			<-done
			rctx, cancel := context.WithTimeout(bg, 2*time.Second)
			defer cancel()
			if err := unlockScript.Run(rctx, s.rdb, []string{key}, token).Err(); err != nil {
				s.log.WarnContext(ctx, "session unlock failed", slog.String("error", err.Error()))
			}
		})
	}
	return release, nil
}

// Locker is the part of Store that WaitLock needs.
type Locker interface {
	Lock(ctx context.Context, cookie string, ttl time.Duration) (func(), error)
}

// WaitLock takes the lock, retrying with jittered exponential backoff
// (10 ms doubling to 250 ms) while it is held by someone else, for at most
// wait (or until ctx ends). It returns ErrLocked when time runs out; other
// errors (ErrUnavailable, ErrMalformedCookie) return at once.
func WaitLock(ctx context.Context, l Locker, cookie string, ttl, wait time.Duration) (func(), error) {
	deadline := time.Now().Add(wait)
	backoff := 10 * time.Millisecond
	for {
		release, err := l.Lock(ctx, cookie, ttl)
		if !errors.Is(err, ErrLocked) {
			return release, err
		}
		d := backoff/2 + mrand.N(backoff/2+1) //nolint:gosec // G404: retry jitter, not a secret
		if time.Until(deadline) < d {
			return nil, err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("session: lock: %w: %w", ErrLocked, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}
