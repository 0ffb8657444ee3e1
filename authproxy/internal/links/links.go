// Package links remembers which gateway session holds an identifier the
// identity provider may later revoke on its own: a refresh token
// (FusionAuth's single-token jwt.refresh-token.revoke) or the provider's
// session id, the id_token's sid (an OpenID Connect back-channel
// logout_token). An event naming one then ends exactly that session.
//
// A link is one Redis key, "<prefix>:ln:<kind>:<h>", where h is
// base64url(SHA-256("gatewarden link v1\x00" || kind || "\x00" || value)):
// the value itself (a refresh token is a credential) is never stored. The
// key holds the user id and the session's tag (session.Tag), and expires
// with the session's absolute lifetime. A link outliving its session is
// harmless: ending a session that is gone is a no-op.
package links

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kind is what a link's value is.
type Kind string

// Kinds of links.
const (
	// RefreshToken links a refresh token's value.
	RefreshToken Kind = "rt"
	// ProviderSession links the provider's session id (the id_token's sid).
	ProviderSession Kind = "sid"
)

// DefaultPrefix is the Redis key prefix, the session store's.
const DefaultPrefix = "gw"

// Target is the session a link names.
type Target struct {
	UserID string
	// Session is the session's tag (session.Tag, SessionInfo.ID).
	Session string
}

// Index keeps the links in Redis. It is safe for concurrent use.
type Index struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// New returns the index kept through rdb; links live ttl (the session
// lifetime). prefix "" = DefaultPrefix.
func New(rdb redis.UniversalClient, prefix string, ttl time.Duration) (*Index, error) {
	if rdb == nil || ttl <= 0 {
		return nil, errors.New("links: new: a client and a positive ttl are required")
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Index{rdb: rdb, prefix: prefix, ttl: ttl}, nil
}

func (x *Index) key(kind Kind, value string) string {
	h := sha256.New()
	h.Write([]byte("gatewarden link v1\x00"))
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(value))
	return x.prefix + ":ln:" + string(kind) + ":" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Link records that t holds value. An empty value, user or session links
// nothing.
func (x *Index) Link(ctx context.Context, kind Kind, value string, t Target) error {
	if value == "" || t.UserID == "" || t.Session == "" {
		return nil
	}
	if err := x.rdb.Set(ctx, x.key(kind, value), t.Session+"\x00"+t.UserID, x.ttl).Err(); err != nil {
		return fmt.Errorf("links: link: %w", err)
	}
	return nil
}

// Find returns the session linked to value; ok is false when none is.
func (x *Index) Find(ctx context.Context, kind Kind, value string) (t Target, ok bool, err error) {
	if value == "" {
		return Target{}, false, nil
	}
	v, err := x.rdb.Get(ctx, x.key(kind, value)).Result()
	if errors.Is(err, redis.Nil) {
		return Target{}, false, nil
	}
	if err != nil {
		return Target{}, false, fmt.Errorf("links: find: %w", err)
	}
	sess, user, found := strings.Cut(v, "\x00")
	if !found || sess == "" || user == "" {
		return Target{}, false, nil
	}
	return Target{UserID: user, Session: sess}, true, nil
}
