package session_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/session/sessiontest"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// countingStore counts its Loads and holds each until the gate opens.
type countingStore struct {
	*session.RedisStore
	loads atomic.Int32
	gate  chan struct{}
}

func (g *countingStore) Load(ctx context.Context, cookie string) (*session.Session, error) {
	g.loads.Add(1)
	<-g.gate
	return g.RedisStore.Load(ctx, cookie)
}

func newCounting(t *testing.T) (*countingStore, *session.Cached) {
	t.Helper()
	m := miniredis.RunT(t)
	c := newClient(t, m.Addr())
	g := &countingStore{RedisStore: newStore(t, c, sessiontest.Options{Prefix: "flight"}), gate: make(chan struct{})}
	return g, newCached(t, g, c, session.CacheConfig{TTL: time.Hour})
}

// Misses of one cookie at the same time share one read of the store: a busy
// session's expired entry costs one GET, not one per waiting request. Each
// caller gets its own copy.
func TestCachedMissesShareOneLoad(t *testing.T) {
	t.Parallel()
	g, cached := newCounting(t)
	ctx := t.Context()
	cookie, err := cached.Create(ctx, &session.Session{UserID: "u1", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	const callers = 8
	got := make([]*session.Session, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = cached.Load(ctx, cookie) })
	}
	testkit.WaitFor(t, "the first load to reach the store", func() bool { return g.loads.Load() >= 1 })
	close(g.gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil || got[i].UserID != "u1" {
			t.Fatalf("caller %d: %v, %v", i, got[i], err)
		}
	}
	// A caller that came after the read hit the entry it stored.
	if n := g.loads.Load(); n != 1 {
		t.Errorf("%d concurrent misses read the store %d times, want 1", callers, n)
	}
	got[0].Roles[0] = "changed"
	if got[1].Roles[0] != "admin" {
		t.Error("callers share one Session: a change by one shows in another's")
	}
}

// A miss that starts after an invalidation does not take the result of a
// read that began before it: it reads the store itself.
func TestCachedMissAfterInvalidationReadsItself(t *testing.T) {
	t.Parallel()
	g, cached := newCounting(t)
	ctx := t.Context()
	cookie, err := cached.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := cached.Create(ctx, &session.Session{UserID: "u2"})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := cached.Load(ctx, cookie)
		first <- err
	}()
	testkit.WaitFor(t, "the first load to reach the store", func() bool { return g.loads.Load() >= 1 })
	// An invalidation while the first read is out: another session's logout.
	if err := cached.Delete(ctx, other); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := cached.Load(ctx, cookie)
		second <- err
	}()
	close(g.gate)
	for _, ch := range []chan error{first, second} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if n := g.loads.Load(); n != 2 {
		t.Errorf("store read %d times, want 2 (the later miss must not share the earlier read)", n)
	}
}

// panickyStore panics on Load, like a bug in a decoder or a client hook.
type panickyStore struct{ *session.RedisStore }

func (panickyStore) Load(context.Context, string) (*session.Session, error) { panic("decoder bug") }

// A panic while a miss reads the store is that load's error: the shared
// read runs where no handler's recover would reach a panic.
func TestCachedLoadPanicIsAnError(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	c := newClient(t, m.Addr())
	st := newStore(t, c, sessiontest.Options{Prefix: "panic"})
	cached := newCached(t, panickyStore{st}, c, session.CacheConfig{TTL: time.Hour, Limits: st.Limits()})
	cookie, err := st.Create(t.Context(), &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := cached.Load(t.Context(), cookie); err == nil {
		t.Fatalf("Load = %v, want an error", s)
	}
}

// A cookie with the session's id but another secret, loaded while the
// real cookie's read is out, does not share that read: it gets not found.
func TestCachedForgedCookieDoesNotShareALoad(t *testing.T) {
	t.Parallel()
	g, cached := newCounting(t)
	ctx := t.Context()
	cookie, err := cached.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := session.SplitCookie(cookie)
	if err != nil {
		t.Fatal(err)
	}
	forged := id + "." + strings.Repeat("A", 43) // same id, another secret
	real := make(chan error, 1)
	go func() {
		_, err := cached.Load(ctx, cookie)
		real <- err
	}()
	testkit.WaitFor(t, "the real cookie's load to reach the store", func() bool { return g.loads.Load() >= 1 })
	fake := make(chan error, 1)
	go func() {
		s, err := cached.Load(ctx, forged)
		if err == nil {
			err = fmt.Errorf("forged cookie loaded %v", s)
		} else if errors.Is(err, session.ErrNotFound) {
			err = nil
		}
		fake <- err
	}()
	close(g.gate)
	if err := <-real; err != nil {
		t.Fatal(err)
	}
	if err := <-fake; err != nil {
		t.Fatalf("forged cookie: %v, want not found", err)
	}
}
