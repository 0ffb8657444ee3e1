package session_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// wireCounter counts the commands that get past the breaker to Redis
// (hooks added later run inside earlier ones).
type wireCounter struct{ n atomic.Int64 }

func (w *wireCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (w *wireCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" {
			w.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (w *wireCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestBreaker: with a real redis-server killed or paused (SIGSTOP), the
// breaker opens after a couple of failed commands; from then on commands
// fail at once with ErrUnavailable and none reaches Redis (no dial, no
// read timeout per request); once Redis is back the probe closes it and
// commands reach Redis again.
func TestBreaker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fail, heal func(*testkit.RedisServer)
	}{
		{name: "killed and restarted", fail: (*testkit.RedisServer).Stop, heal: (*testkit.RedisServer).Start},
		{name: "paused and resumed", fail: (*testkit.RedisServer).Pause, heal: (*testkit.RedisServer).Resume},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs := testkit.StartRedis(t)
			c := newClient(t, rs.Addr())
			b, err := session.NewBreaker(c, session.BreakerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			var wire wireCounter
			c.AddHook(&wire)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { b.Run(ctx); close(done) }()
			t.Cleanup(func() { cancel(); <-done })

			get := func() error { return c.Get(context.Background(), "k").Err() }
			if err := get(); !errors.Is(err, redis.Nil) {
				t.Fatalf("before the fault: %v", err)
			}
			tt.fail(rs)
			for i := 0; !b.Open(); i++ {
				if i == 10 {
					t.Fatal("breaker still closed after 10 failed commands")
				}
				if err := get(); err == nil || errors.Is(err, redis.Nil) {
					t.Fatalf("command succeeded while Redis is down: %v", err)
				}
			}
			before := wire.n.Load()
			for range 200 {
				if err := get(); !errors.Is(err, session.ErrUnavailable) {
					t.Fatalf("while open: %v; want ErrUnavailable", err)
				}
			}
			if n := wire.n.Load() - before; n != 0 {
				t.Fatalf("%d commands reached Redis while the breaker was open", n)
			}
			tt.heal(rs)
			testkit.WaitFor(t, "breaker to close", func() bool { return !b.Open() })
			if err := get(); !errors.Is(err, redis.Nil) {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

// TestBreakerIgnoresReplies: error replies and missing keys are answers,
// not outages; the breaker stays closed.
func TestBreakerIgnoresReplies(t *testing.T) {
	t.Parallel()
	rs := testkit.StartRedis(t)
	c := newClient(t, rs.Addr())
	b, err := session.NewBreaker(c, session.BreakerConfig{Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	go b.Run(ctx)
	if err := c.Set(ctx, "list", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := c.LPush(ctx, "list", "y").Err(); err == nil {
			t.Fatal("LPUSH on a string succeeded")
		}
		_ = c.Get(ctx, "missing").Err()
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = c.Get(cctx, "k").Err() // the caller giving up is not an outage either
	if b.Open() {
		t.Fatal("breaker opened on replies")
	}
}
