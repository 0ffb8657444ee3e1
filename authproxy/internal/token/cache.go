package token

import (
	"container/list"
	"slices"
	"sync"
	"time"
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
	mu      sync.Mutex
	max     int
	entries map[cacheKey]*list.Element
	lru     *list.List // front = most recently used; values are *cacheEntry
}

type cacheKey struct {
	sid, sub, aud string
}

type cacheEntry struct {
	key    cacheKey
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
	return &Cache{max: maxEntries, entries: make(map[cacheKey]*list.Element), lru: list.New()}
}

func keyOf(c Claims) cacheKey {
	return cacheKey{sid: c.SessionID, sub: c.Subject, aud: c.Audience}
}

// Get returns the cached token for c if its claims are unchanged and more
// than a quarter of its lifetime is left at now.
func (c *Cache) Get(cl Claims, now time.Time) (string, time.Time, bool) {
	k := keyOf(cl)
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return "", time.Time{}, false
	}
	e := el.Value.(*cacheEntry)
	if e.exp.Sub(now) <= e.exp.Sub(e.issued)/4 || !sameClaims(e.claims, cl) {
		c.lru.Remove(el)
		delete(c.entries, k)
		return "", time.Time{}, false
	}
	c.lru.MoveToFront(el)
	return e.token, e.exp, true
}

// Put stores a token minted for cl at issued, expiring at exp.
func (c *Cache) Put(cl Claims, token string, issued, exp time.Time) {
	cl.Roles = slices.Clone(cl.Roles)
	cl.Branches = slices.Clone(cl.Branches)
	e := &cacheEntry{key: keyOf(cl), claims: cl, token: token, issued: issued, exp: exp}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[e.key] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).key)
	}
}

// Len returns the number of cached tokens.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

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
