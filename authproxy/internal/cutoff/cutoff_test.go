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

// TestCutoffPublished against a real redis-server: raising the cutoff
// changes the revocations' version with the write and Revocations
// publishes it in unix seconds (rounded down); a Set that does not raise
// it changes neither.
func TestCutoffPublished(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: testkit.StartRedis(t).Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	store, err := session.NewRedisStore(session.Config{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	cuts, err := cutoff.New(rdb, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	read := func() *session.Revocations {
		t.Helper()
		rv, err := store.Revocations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := store.RevocationVersion(ctx)
		if err != nil || v != rv.Version {
			t.Fatalf("RevocationVersion = %q, %v; Revocations().Version = %q", v, err, rv.Version)
		}
		return rv
	}
	if rv := read(); rv.Cutoff != 0 || rv.Version != "" {
		t.Fatalf("before any cutoff: cutoff %d, version %q; want none", rv.Cutoff, rv.Version)
	}
	at := time.UnixMilli(1_700_000_000_999)
	for i, tt := range []struct {
		set        time.Time
		wantCutoff int64
		wantBump   bool
	}{
		{set: at, wantCutoff: 1_700_000_000, wantBump: true},
		{set: at.Add(-time.Minute), wantCutoff: 1_700_000_000, wantBump: false},
		{set: at, wantCutoff: 1_700_000_000, wantBump: false},
		{set: at.Add(time.Millisecond), wantCutoff: 1_700_000_001, wantBump: true},
	} {
		before := read().Version
		if err := cuts.Set(ctx, tt.set); err != nil {
			t.Fatal(err)
		}
		rv := read()
		if rv.Cutoff != tt.wantCutoff || (rv.Version != before) != tt.wantBump || rv.Version == "" {
			t.Errorf("Set %d (%v): cutoff %d, version %q -> %q; want cutoff %d, version changed %v",
				i, tt.set, rv.Cutoff, before, rv.Version, tt.wantCutoff, tt.wantBump)
		}
	}
}
