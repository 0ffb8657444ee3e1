package jwtauth

import (
	"container/list"
	"sync"
	"time"
)

// tokenCache is a bounded LRU of verified tokens keyed by the SHA-256 of the
// token. An entry is served only while now is before the token's exp, so a
// cached token can never outlive its expiry. Safe for concurrent use.
type tokenCache struct {
	mu      sync.Mutex
	max     int
	order   *list.List // front = most recently used; values are *cacheEntry
	entries map[[32]byte]*list.Element
}

type cacheEntry struct {
	key    [32]byte
	claims *Claims // never handed out; callers get clones
	exp    time.Time
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{max: size, order: list.New(), entries: make(map[[32]byte]*list.Element, min(size, 1024))}
}

// get returns the cached claims for key if still before their exp.
func (c *tokenCache) get(key [32]byte, now time.Time) (*Claims, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.exp) {
		c.order.Remove(el)
		delete(c.entries, key)
		return nil, false
	}
	c.order.MoveToFront(el)
	return e.claims, true
}

// put stores claims until exp, evicting the least recently used entry when full.
func (c *tokenCache) put(key [32]byte, claims *Claims, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		e.claims, e.exp = claims, exp
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, claims: claims, exp: exp})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

// len returns the number of entries (for tests).
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
