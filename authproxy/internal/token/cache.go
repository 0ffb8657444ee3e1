package token

import (
	"slices"
	"strings"
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

// Put stores a token minted for cl at issued, expiring at exp. The entry
// holds copies of cl's strings: the caller's may be substrings of a larger
// value (the session decoder hands out substrings of the whole record),
// which a cached entry would otherwise keep alive for the token's lifetime.
func (c *Cache) Put(cl Claims, token string, issued, exp time.Time) {
	cl = cloneClaims(cl)
	c.lru.Put(keyOf(cl), cacheEntry{claims: cl, token: token, issued: issued, exp: exp})
}

// cloneClaims copies every string of cl into one allocation and the
// lists into one more.
func cloneClaims(cl Claims) Claims {
	n := len(cl.Subject) + len(cl.Audience) + len(cl.TenantID) + len(cl.SessionID) + len(cl.Email) + len(cl.Name)
	for _, r := range cl.Roles {
		n += len(r)
	}
	for _, r := range cl.Branches {
		n += len(r)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range []string{cl.Subject, cl.Audience, cl.TenantID, cl.SessionID, cl.Email, cl.Name} {
		b.WriteString(s)
	}
	for _, list := range [][]string{cl.Roles, cl.Branches} {
		for _, s := range list {
			b.WriteString(s)
		}
	}
	all, off := b.String(), 0
	next := func(s string) string {
		off += len(s)
		return all[off-len(s) : off]
	}
	out := Claims{
		Subject: next(cl.Subject), Audience: next(cl.Audience), TenantID: next(cl.TenantID),
		SessionID: next(cl.SessionID), Email: next(cl.Email), Name: next(cl.Name),
		OrigIssuedAt: cl.OrigIssuedAt,
	}
	if len(cl.Roles)+len(cl.Branches) > 0 {
		lists := make([]string, 0, len(cl.Roles)+len(cl.Branches))
		for _, s := range cl.Roles {
			lists = append(lists, next(s))
		}
		for _, s := range cl.Branches {
			lists = append(lists, next(s))
		}
		out.Roles = lists[:len(cl.Roles):len(cl.Roles)]
		out.Branches = lists[len(cl.Roles):]
	}
	return out
}

// Len returns the number of cached tokens.
func (c *Cache) Len() int { return c.lru.Len() }

func sameClaims(a, b Claims) bool {
	return a.Subject == b.Subject && a.Audience == b.Audience && a.SessionID == b.SessionID &&
		a.TenantID == b.TenantID && a.Email == b.Email && a.Name == b.Name && a.OrigIssuedAt == b.OrigIssuedAt &&
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
