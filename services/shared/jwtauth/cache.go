package jwtauth

import (
	"time"

	"github.com/gatewarden/gatewarden/services/shared/lru"
)

// tokenCache is a bounded LRU of verified tokens keyed by the SHA-256 of the
// token. An entry is served only while now is before the token's exp, so a
// cached token can never outlive its expiry, and, for JWKS issuers, only
// while the key that verified it is still in the issuer's key set, so
// withdrawing a key from the JWKS also withdraws the tokens it signed.
// Safe for concurrent use.
type tokenCache struct {
	lru *lru.Cache[[32]byte, cachedToken]
}

type cachedToken struct {
	claims *Claims // never handed out; callers get clones
	exp    time.Time
	src    *jwksSource // with key: the JWKS key that verified the token; nil for PEM/HMAC keys
	key    *key
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{lru: lru.New[[32]byte, cachedToken](size)}
}

// get returns the cached claims for key if still before their exp and their
// key is still trusted.
func (c *tokenCache) get(key [32]byte, now time.Time) (*Claims, bool) {
	e, ok := c.lru.Get(key, func(e cachedToken) bool {
		return now.Before(e.exp) && (e.src == nil || e.src.keys.Load().has(e.key))
	})
	return e.claims, ok
}

// put stores claims verified with k (nil for a static key) until exp.
func (c *tokenCache) put(key [32]byte, claims *Claims, exp time.Time, src *jwksSource, k *key) {
	c.lru.Put(key, cachedToken{claims: claims, exp: exp, src: src, key: k})
}

// len returns the number of entries (for tests).
func (c *tokenCache) len() int { return c.lru.Len() }
