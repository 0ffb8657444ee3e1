package token

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

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
		{name: "orig_iat changed (another access token of the same session)", claims: func(c Claims) Claims { c.OrigIssuedAt = 1_700_000_000; return c }},
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

// A cached entry must not keep the caller's strings alive: in authproxy
// they are substrings of a whole decoded session record.
func TestCachePutCopiesClaims(t *testing.T) {
	t.Parallel()
	record := "u-1|catalog|tid|sid-1|a@example.com|Ada|admin|user|b1"
	part := func(i int) string { return strings.Split(record, "|")[i] }
	cl := Claims{
		Subject: record[:3], Audience: part(1), TenantID: part(2), SessionID: part(3), Email: part(4), Name: part(5),
		Roles: []string{part(6), part(7)}, Branches: []string{part(8)}, OrigIssuedAt: 1_700_000_000,
	}
	c := NewCache(4)
	now := testNow
	c.Put(cl, "tok", now, now.Add(time.Minute))
	e, ok := c.lru.Get(keyOf(cl), nil)
	if !ok {
		t.Fatal("entry missing")
	}
	if !sameClaims(e.claims, cl) {
		t.Fatalf("claims changed: %+v, want %+v", e.claims, cl)
	}
	recStart, recEnd := uintptr(unsafe.Pointer(unsafe.StringData(record))), uintptr(unsafe.Pointer(unsafe.StringData(record)))+uintptr(len(record))
	for i, s := range append([]string{e.claims.Subject, e.claims.Audience, e.claims.TenantID, e.claims.SessionID, e.claims.Email, e.claims.Name},
		append(e.claims.Roles, e.claims.Branches...)...) {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); p >= recStart && p < recEnd {
			t.Errorf("string %d (%q) still points into the caller's record", i, s)
		}
	}
	if _, _, ok := c.Get(cl, now); !ok {
		t.Fatal("same claims: miss")
	}
	other := cl
	other.Roles = []string{"admin"}
	if _, _, ok := c.Get(other, now); ok {
		t.Fatal("changed roles: hit")
	}
}

// BenchmarkCachedBytesPerToken fills a cache with n ES256 tokens minted
// for distinct sessions (claims the size of a real session's) and reports
// the heap it holds per token, GC'd before and after: the memory bound of
// a full cache is its size times this.
//
//	go test -run '^$' -bench CachedBytesPerToken -benchtime 1x ./authproxy/internal/token/
func BenchmarkCachedBytesPerToken(b *testing.B) {
	s, _ := cachedSigner(b)
	const n = 20000
	claims := make([]Claims, n)
	for i := range claims {
		claims[i] = Claims{
			Subject: fmt.Sprintf("7c9a4f5e-2d3b-4c1a-9e8f-%012d", i), Audience: "inventory", Roles: []string{"admin"},
			TenantID: "d7d09513-a3f5-401c-9685-34ab6c552453", SessionID: fmt.Sprintf("%043d", i),
			Email: "admin@example.com", Name: "Ada Admin",
		}
	}
	for b.Loop() {
		c := NewCache(n)
		before := heapInUse()
		for _, cl := range claims {
			if _, _, _, err := s.MintCached(c, cl); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(heapInUse()-before)/n, "bytes/token")
		runtime.KeepAlive(c)
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
