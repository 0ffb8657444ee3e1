package token

import (
	"slices"
	"time"

	"github.com/gatewarden/gatewarden/services/shared/lru"
)

// DefaultCacheEntries is the cache size when NewCache gets a size <= 0.
const DefaultCacheEntries = 10000

// Cache holds minted tokens keyed by (session, subject, audience); anonymous
// tokens (no session) are cached per audience. A token is handed out again
// only while more than a quarter of its lifetime remains, and only for
// exactly the same claims (so a session whose roles changed at a refresh gets
// a fresh token at once). It is bounded (least recently used entries go
// first) and safe for concurrent use.
type Cache struct {
	lru *lru.Cache[cacheKey, cacheEntry]
}

type cacheKey struct {
	sid, sub, aud string
}

type cacheEntry struct {
	claims Claims
	token  string
	issued time.Time
	exp    time.Time
}

// NewCache returns a cache of at most maxEntries tokens (<= 0: DefaultCacheEntries).
func NewCache(maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	return &Cache{lru: lru.New[cacheKey, cacheEntry](maxEntries)}
}

func keyOf(c Claims) cacheKey {
	return cacheKey{sid: c.SessionID, sub: c.Subject, aud: c.Audience}
}

// Get returns the cached token for c if its claims are unchanged and more
// than a quarter of its lifetime is left at now.
func (c *Cache) Get(cl Claims, now time.Time) (string, time.Time, bool) {
	e, ok := c.lru.Get(keyOf(cl), func(e cacheEntry) bool {
		return e.exp.Sub(now) > e.exp.Sub(e.issued)/4 && sameClaims(e.claims, cl)
	})
	return e.token, e.exp, ok
}

// Put stores a token minted for cl at issued, expiring at exp.
func (c *Cache) Put(cl Claims, token string, issued, exp time.Time) {
	cl.Roles = slices.Clone(cl.Roles)
	cl.Branches = slices.Clone(cl.Branches)
	c.lru.Put(keyOf(cl), cacheEntry{claims: cl, token: token, issued: issued, exp: exp})
}

// Len returns the number of cached tokens.
func (c *Cache) Len() int { return c.lru.Len() }

func sameClaims(a, b Claims) bool {
	return a.Subject == b.Subject && a.Audience == b.Audience && a.SessionID == b.SessionID &&
		a.TenantID == b.TenantID && a.Email == b.Email && a.Name == b.Name &&
		slices.Equal(a.Roles, b.Roles) && slices.Equal(a.Branches, b.Branches)
}

// MintCached returns a cached token for cl when one is still fresh, and
// otherwise mints and caches a new one. hit reports a cache hit.
func (s *Signer) MintCached(c *Cache, cl Claims) (token string, exp time.Time, hit bool, err error) {
	now := s.now()
	if tok, exp, ok := c.Get(cl, now); ok {
		return tok, exp, true, nil
	}
	tok, exp, err := s.Mint(cl)
	if err != nil {
		return "", time.Time{}, false, err
	}
	c.Put(cl, tok, exp.Add(-s.ttl), exp)
	return tok, exp, false, nil
}
