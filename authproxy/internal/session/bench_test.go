package session_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/session/sessiontest"
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

// BenchmarkLoad: one GET to a real redis-server plus decrypt and decode.
func BenchmarkLoad(b *testing.B) {
	srv := sessiontest.StartRedis(b)
	c := newClient(b, srv.Addr())
	st := newStore(b, c, sessiontest.Options{Prefix: "bench"})
	cookie, err := st.Create(b.Context(), benchSession())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Load(b.Context(), cookie); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachedLoad: a cache hit (no Redis round trip).
func BenchmarkCachedLoad(b *testing.B) {
	srv := sessiontest.StartRedis(b)
	c := newClient(b, srv.Addr())
	st := newStore(b, c, sessiontest.Options{Prefix: "bench"})
	cached := newCached(b, st, c, session.CacheConfig{TTL: time.Hour})
	cookie, err := cached.Create(b.Context(), benchSession())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cached.Load(b.Context(), cookie); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadParallel: the real-Redis Load from many goroutines.
func BenchmarkLoadParallel(b *testing.B) {
	srv := sessiontest.StartRedis(b)
	c := newClient(b, srv.Addr())
	st := newStore(b, c, sessiontest.Options{Prefix: "bench"})
	cookie, err := st.Create(b.Context(), benchSession())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.Load(b.Context(), cookie); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
