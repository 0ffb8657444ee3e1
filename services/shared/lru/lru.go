// Package lru is a small bounded map that drops its least recently used
// entry when full. It is safe for concurrent use. jwtauth keeps verified
// tokens in it and authproxy's token package keeps minted ones; each caller
// decides, per lookup, whether an entry is still good (see Get).
package lru

import (
	"container/list"
	"sync"
)

// Cache holds at most the number of entries given to New. The zero value is
// not usable.
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	max     int
	order   *list.List // front = most recently used; values are *entry[K, V]
	entries map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key K
	val V
}

// New returns a cache of at most size entries; size must be positive.
func New[K comparable, V any](size int) *Cache[K, V] {
	if size <= 0 {
		panic("lru: size must be positive")
	}
	return &Cache[K, V]{max: size, order: list.New(), entries: make(map[K]*list.Element, min(size, 1024))}
}

// Get returns the value stored under key and marks it most recently used.
// When valid is not nil and reports false for the stored value, the entry is
// removed (in the same critical section, so a concurrent Put of a fresh value
// is never lost) and Get reports a miss.
func (c *Cache[K, V]) Get(key K, valid func(V) bool) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	e := el.Value.(*entry[K, V])
	if valid != nil && !valid(e.val) {
		c.order.Remove(el)
		delete(c.entries, key)
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.val, true
}

// Put stores val under key, replacing any previous value, and evicts the
// least recently used entry when the cache is over its size.
func (c *Cache[K, V]) Put(key K, val V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		el.Value.(*entry[K, V]).val = val
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&entry[K, V]{key: key, val: val})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*entry[K, V]).key)
	}
}

// Len returns the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
