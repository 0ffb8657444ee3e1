package session

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// miniStore is a RedisStore on a miniredis of the test's own, with a
// test clock.
func miniStore(t *testing.T) (*redis.Client, *testkit.Clock, *RedisStore) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	clock := testkit.NewClock(time.Now())
	st, err := NewRedisStore(Config{Client: c, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c, clock, st
}

// A touch computed from an old read must not undo a Save made meanwhile
// (a refresh on another replica storing a rotated refresh token).
func TestTouchDoesNotClobberSave(t *testing.T) {
	t.Parallel()
	_, clock, st := miniStore(t)
	ctx := t.Context()
	cookie, err := st.Create(ctx, &Session{UserID: "u1", RefreshToken: "rt-1"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := parseCookie(cookie)
	stale, raw, err := st.load(ctx, "test", p) // replica A reads ...
	if err != nil {
		t.Fatal(err)
	}
	fresh := stale.Clone() // ... replica B refreshes and saves ...
	fresh.RefreshToken = "rt-2"
	if err := st.Save(ctx, cookie, fresh); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	st.touchRecord(ctx, p, stale, raw, clock.Now()) // ... then A touches with its old copy.
	got, err := st.Load(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken != "rt-2" {
		t.Fatalf("RefreshToken = %q: a touch overwrote a newer save", got.RefreshToken)
	}
}

func TestParseCookie(t *testing.T) {
	t.Parallel()
	cookie, want := newCookie()
	got, err := parseCookie(cookie)
	if err != nil {
		t.Fatal(err)
	}
	if got.id != want.id || got.secret != want.secret || got.hash != want.hash {
		t.Fatal("parse does not invert newCookie")
	}
	if _, err := parseCookie(strings.Replace(cookie, ".", "-", 1)); !errors.Is(err, ErrMalformedCookie) {
		t.Fatalf("no separator: %v", err)
	}
}

// FuzzParseCookie: a cookie is accepted only in its one canonical form.
func FuzzParseCookie(f *testing.F) {
	c, _ := newCookie()
	f.Add(c)
	f.Add("")
	f.Add(strings.Repeat("A", 43) + "." + strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 43) + "." + strings.Repeat("A", 42) + "B")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseCookie(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedCookie) {
				t.Fatalf("error %v is not ErrMalformedCookie", err)
			}
			return
		}
		enc := base64.RawURLEncoding
		if re := enc.EncodeToString(p.id[:]) + "." + enc.EncodeToString(p.secret[:]); re != s {
			t.Fatalf("accepted non-canonical cookie %q (canonical %q)", s, re)
		}
		if SID(s) == "" || SID(s) == p.tag() {
			t.Fatal("SID empty or equal to the key tag")
		}
	})
}

// SID is SHA-256("gatewarden sid v2\x00" || SHA-256(id)) in base64url (the
// tag's hash, so a session ended by its tag is revoked by its sid), "" for
// a malformed cookie, and costs one allocation (the string) per decision.
//
// Not parallel: testing.AllocsPerRun refuses to run in a parallel test.
func TestSIDValueAndAllocs(t *testing.T) {
	cookie, p := newCookie()
	h := sha256.New()
	h.Write([]byte("gatewarden sid v2\x00"))
	h.Write(p.hash[:])
	if got, want := SID(cookie), base64.RawURLEncoding.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("SID = %q, want %q", got, want)
	}
	for _, bad := range []string{"", cookie[:len(cookie)-1], strings.Replace(cookie, ".", "!", 1), "!" + cookie[1:], cookie[:len(cookie)-1] + "!"} {
		if got := SID(bad); got != "" {
			t.Errorf("SID(%q) = %q, want \"\"", bad, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = SID(cookie) }); n > 1 {
		t.Errorf("SID: %v allocations, want at most 1", n)
	}
}

func BenchmarkSID(b *testing.B) {
	cookie, _ := newCookie()
	b.ReportAllocs()
	for b.Loop() {
		_ = SID(cookie)
	}
}

// TestCachedBoundedEntries: a full cache drops its expired entries first
// (in one pass at most once per TTL), else arbitrary ones, and never holds
// more than MaxEntries.
func TestCachedBoundedEntries(t *testing.T) {
	t.Parallel()
	c, clock, st := miniStore(t)
	const maxEntries = 3
	cache, err := NewCached(CacheConfig{Store: st, Client: c, TTL: time.Second, MaxEntries: maxEntries, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for !cache.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("cache subscription never confirmed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx := t.Context()
	load := func() {
		t.Helper()
		cookie, err := st.Create(ctx, &Session{UserID: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cache.Load(ctx, cookie); err != nil {
			t.Fatal(err)
		}
	}
	held := func() int {
		cache.mu.RLock()
		defer cache.mu.RUnlock()
		return len(cache.entries)
	}
	for range maxEntries {
		load()
	}
	if n := held(); n != maxEntries {
		t.Fatalf("after %d loads: %d entries, want %d", maxEntries, n, maxEntries)
	}
	clock.Advance(2 * time.Second) // every entry expired
	load()
	if n := held(); n != 1 {
		t.Errorf("full cache of expired entries, one more load: %d entries, want 1 (expired dropped first)", n)
	}
	for range 2 * maxEntries {
		load()
		if n := held(); n > maxEntries {
			t.Fatalf("%d entries, want at most %d", n, maxEntries)
		}
	}
}
