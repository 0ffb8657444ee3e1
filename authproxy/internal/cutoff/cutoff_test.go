package cutoff_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/cutoff"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestCutoff against a real redis-server: sessions created at or before
// the cutoff are refused (and deleted, their revocation recorded) once the
// replica rereads it, after its interval; sessions created after it load;
// a cutoff is never lowered and expires with the session lifetime.
func TestCutoff(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: testkit.StartRedis(t).Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	inner, err := session.NewRedisStore(session.Config{Client: rdb, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	cuts, err := cutoff.New(rdb, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	store, err := cutoff.NewStore(cutoff.Config{Store: inner, Cutoffs: cuts, Interval: time.Second, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	before, err := store.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx, before); err != nil { // reads "no cutoff"
		t.Fatalf("before any cutoff: %v", err)
	}
	clk.add(time.Millisecond)
	if err := cuts.Set(ctx, clk.now()); err != nil {
		t.Fatal(err)
	}
	if err := cuts.Set(ctx, clk.now().Add(-time.Minute)); err != nil { // never lowers it
		t.Fatal(err)
	}
	clk.add(time.Millisecond)
	after, err := store.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx, before); err != nil {
		t.Fatalf("within the interval the replica still holds no cutoff: %v", err)
	}
	clk.add(time.Second)
	if _, err := store.Load(ctx, before); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("session created before the cutoff: %v, want ErrNotFound", err)
	}
	if _, err := inner.Load(ctx, before); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("record of the refused session: %v, want deleted", err)
	}
	if rv, err := inner.Revocations(ctx); err != nil || !slices.Contains(rv.Sessions, session.SID(before)) {
		t.Errorf("revocations %v, %v: want the refused session's SID", rv, err)
	}
	if _, err := store.Load(ctx, after); err != nil {
		t.Errorf("session created after the cutoff: %v", err)
	}
	got, err := cuts.Get(ctx)
	if err != nil || !got.Equal(clk.now().Add(-time.Second-time.Millisecond)) {
		t.Errorf("cutoff %v, %v: want the first, later one", got, err)
	}
	if ttl := rdb.PTTL(ctx, "gw:{rv}:cutoff").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("cutoff ttl %v, want (0, 1h]", ttl)
	}
}
