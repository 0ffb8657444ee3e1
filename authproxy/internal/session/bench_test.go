package session_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/session/sessiontest"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

func benchSession() *session.Session {
	return &session.Session{
		UserID: "7c9a4f5e-2d3b-4c1a-9e8f-0a1b2c3d4e5f", Email: "admin@example.com", Name: "Ada Admin",
		Roles: []string{"admin"}, TenantID: "d7d09513-a3f5-401c-9685-34ab6c552453",
		AccessToken:  strings.Repeat("a", 900), // about a FusionAuth RS256 access token
		RefreshToken: strings.Repeat("r", 64), IDToken: strings.Repeat("i", 900),
		AccessExpiry: time.Now().Add(time.Hour),
	}
}

// benchStore starts a real redis-server and stores one session, in the
// plain store or behind the cache.
func benchStore(b *testing.B, cached bool) (session.Store, string) {
	srv := testkit.StartRedis(b)
	c := newClient(b, srv.Addr())
	var st session.Store = newStore(b, c, sessiontest.Options{Prefix: "bench"})
	if cached {
		st = newCached(b, st, c, session.CacheConfig{TTL: time.Hour})
	}
	cookie, err := st.Create(b.Context(), benchSession())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	return st, cookie
}

func benchLoad(b *testing.B, cached bool) {
	st, cookie := benchStore(b, cached)
	for b.Loop() {
		if _, err := st.Load(b.Context(), cookie); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad: one GET to a real redis-server plus decrypt and decode.
func BenchmarkLoad(b *testing.B) { benchLoad(b, false) }

// BenchmarkCachedLoad: a cache hit (no Redis round trip).
func BenchmarkCachedLoad(b *testing.B) { benchLoad(b, true) }

// BenchmarkLoadParallel: the real-Redis Load from many goroutines.
func BenchmarkLoadParallel(b *testing.B) {
	st, cookie := benchStore(b, false)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.Load(b.Context(), cookie); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCachedBytesPerSession fills the cache with the default
// MaxEntries sessions (each created in a real redis-server and loaded
// once through Cached) and reports the heap the cache holds per session,
// GC'd before and after: the memory bound of a full cache is
// DefaultCacheEntries times this.
//
//	go test -run '^$' -bench CachedBytesPerSession -benchtime 1x ./authproxy/internal/session/
func BenchmarkCachedBytesPerSession(b *testing.B) {
	srv := testkit.StartRedis(b)
	c := newClient(b, srv.Addr())
	inner := newStore(b, c, sessiontest.Options{Prefix: "bench"})
	n := session.DefaultCacheEntries
	cookies := make([]string, n)
	for i := range cookies {
		var err error
		if cookies[i], err = inner.Create(b.Context(), benchSession()); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		st := newCached(b, inner, c, session.CacheConfig{TTL: time.Hour, MaxEntries: n})
		before := heapInUse()
		for _, ck := range cookies {
			if _, err := st.Load(b.Context(), ck); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(heapInUse()-before)/float64(n), "bytes/session")
		runtime.KeepAlive(st)
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
