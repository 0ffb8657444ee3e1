package token

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

func cachedSigner(t testing.TB) (*Signer, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(testNow)
	cfg := configFor(t, ES256)
	cfg.Now = clk.Now
	s, err := NewSigner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func TestCacheRemintsBeforeExpiry(t *testing.T) {
	t.Parallel()
	s, clk := cachedSigner(t)
	c := NewCache(10)
	cl := Claims{Subject: "u1", Audience: "catalog", SessionID: "s1", Roles: []string{"user"}}
	tok1, exp1, hit, err := s.MintCached(c, cl)
	if err != nil || hit {
		t.Fatalf("first mint: hit=%v err=%v", hit, err)
	}
	clk.Advance(44 * time.Second) // 16s of 60s left: more than a quarter
	tok2, exp2, hit, _ := s.MintCached(c, cl)
	if !hit || tok2 != tok1 || !exp2.Equal(exp1) {
		t.Fatalf("at 44s: hit=%v same=%v", hit, tok2 == tok1)
	}
	clk.Advance(1 * time.Second) // exactly a quarter left: re-mint
	tok3, exp3, hit, _ := s.MintCached(c, cl)
	if hit || tok3 == tok1 || !exp3.After(exp1) {
		t.Fatalf("at 45s: hit=%v same=%v exp=%v", hit, tok3 == tok1, exp3)
	}
}

func TestCacheKeys(t *testing.T) {
	t.Parallel()
	s, _ := cachedSigner(t)
	c := NewCache(10)
	base := Claims{Subject: "u1", Audience: "catalog", SessionID: "s1", Roles: []string{"user"}}
	tok, _, _, _ := s.MintCached(c, base)
	tests := []struct {
		name    string
		claims  func(Claims) Claims
		wantHit bool
	}{
		{name: "same claims", claims: func(c Claims) Claims { c.Roles = []string{"user"}; return c }, wantHit: true},
		{name: "other audience (no replay of a catalog token at inventory)", claims: func(c Claims) Claims { c.Audience = "inventory"; return c }},
		{name: "other session", claims: func(c Claims) Claims { c.SessionID = "s2"; return c }},
		{name: "other subject same session", claims: func(c Claims) Claims { c.Subject = "u2"; return c }},
		{name: "roles changed", claims: func(c Claims) Claims { c.Roles = []string{"user", "admin"}; return c }},
		{name: "branches changed", claims: func(c Claims) Claims { c.Branches = []string{"2"}; return c }},
		{name: "email changed", claims: func(c Claims) Claims { c.Email = "x@example.com"; return c }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the mismatching cases replace the cached entry.
			got, _, hit := c.Get(tt.claims(base), testNow)
			if hit != tt.wantHit || (hit && got != tok) {
				t.Fatalf("hit = %v; want %v", hit, tt.wantHit)
			}
			if !hit {
				// Restore the base entry for the next case.
				tok, _, _, _ = s.MintCached(c, base)
			}
		})
	}
}

func TestCacheAnonymousPerAudience(t *testing.T) {
	t.Parallel()
	s, _ := cachedSigner(t)
	c := NewCache(10)
	a1, _, _, _ := s.MintCached(c, Claims{Subject: Anonymous, Audience: "catalog"})
	a2, _, hit, _ := s.MintCached(c, Claims{Subject: Anonymous, Audience: "catalog"})
	if !hit || a1 != a2 {
		t.Fatal("anonymous token not cached per audience")
	}
	b1, _, hit, _ := s.MintCached(c, Claims{Subject: Anonymous, Audience: "inventory"})
	if hit || b1 == a1 {
		t.Fatal("anonymous token shared across audiences")
	}
	if p := decodePayload(t, b1); p["aud"] != "inventory" {
		t.Fatalf("aud = %v", p["aud"])
	}
}

func TestCacheBounded(t *testing.T) {
	t.Parallel()
	c := NewCache(3)
	exp := testNow.Add(time.Minute)
	for i := range 5 {
		c.Put(Claims{Subject: "u", SessionID: fmt.Sprint(i), Audience: "a"}, fmt.Sprint("tok", i), testNow, exp)
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d; want 3", c.Len())
	}
	// 0 and 1 were evicted (least recently used); touching 2 keeps it over 3.
	if _, _, ok := c.Get(Claims{Subject: "u", SessionID: "0", Audience: "a"}, testNow); ok {
		t.Error("oldest entry not evicted")
	}
	c.Get(Claims{Subject: "u", SessionID: "2", Audience: "a"}, testNow)
	c.Put(Claims{Subject: "u", SessionID: "5", Audience: "a"}, "tok5", testNow, exp)
	if _, _, ok := c.Get(Claims{Subject: "u", SessionID: "2", Audience: "a"}, testNow); !ok {
		t.Error("recently used entry evicted")
	}
	if _, _, ok := c.Get(Claims{Subject: "u", SessionID: "3", Audience: "a"}, testNow); ok {
		t.Error("least recently used entry kept")
	}
	d := NewCache(0)
	for i := range DefaultCacheEntries + 1 {
		d.Put(Claims{Subject: "u", SessionID: strconv.Itoa(i), Audience: "a"}, "tok", testNow, exp)
	}
	if d.Len() != DefaultCacheEntries {
		t.Errorf("NewCache(0) holds %d entries, want the default %d", d.Len(), DefaultCacheEntries)
	}
}

func TestCachePutCopiesSlices(t *testing.T) {
	t.Parallel()
	c := NewCache(2)
	roles := []string{"user"}
	cl := Claims{Subject: "u", Audience: "a", SessionID: "s", Roles: roles}
	c.Put(cl, "tok", testNow, testNow.Add(time.Minute))
	roles[0] = "admin" // the caller reuses its slice
	if _, _, ok := c.Get(Claims{Subject: "u", Audience: "a", SessionID: "s", Roles: []string{"admin"}}, testNow); ok {
		t.Fatal("cache entry aliased the caller's roles slice")
	}
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	s, clk := cachedSigner(t)
	c := NewCache(8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				cl := Claims{Subject: "u", Audience: fmt.Sprint("aud", i%4), SessionID: fmt.Sprint("s", g%3)}
				if _, _, _, err := s.MintCached(c, cl); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					clk.Advance(5 * time.Second)
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 8 {
		t.Fatalf("Len = %d over bound", c.Len())
	}
}

func BenchmarkCacheHit(b *testing.B) {
	s, _ := cachedSigner(b)
	c := NewCache(1000)
	cl := Claims{Subject: "user-1", Audience: "inventory", Roles: []string{"admin"}, SessionID: "sid", TenantID: "tid"}
	if _, _, _, err := s.MintCached(c, cl); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, hit, _ := s.MintCached(c, cl); !hit {
			b.Fatal("miss")
		}
	}
}
