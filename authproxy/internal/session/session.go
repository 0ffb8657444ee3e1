package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Sentinel errors. Every error a Store returns wraps at most one of them;
// check with errors.Is.
var (
	// ErrNotFound: no session for this cookie (never existed, deleted,
	// expired by Redis, or the cookie's secret does not open the record).
	ErrNotFound = errors.New("session not found")
	// ErrExpired: the session passed its absolute lifetime or idle timeout;
	// the record has been deleted.
	ErrExpired = errors.New("session expired")
	// ErrMalformedCookie: the cookie is not a well-formed "id.secret".
	ErrMalformedCookie = errors.New("malformed session cookie")
	// ErrUnavailable: the store could not be reached (Redis down, timeout).
	// The server answers 503 for rules that need a session.
	ErrUnavailable = errors.New("session store unavailable")
	// ErrLocked: the lock is held by someone else.
	ErrLocked = errors.New("session locked")
)

// Session is one login. The token fields are secrets: never log a Session.
type Session struct {
	UserID       string    `json:"uid"`
	Email        string    `json:"email,omitempty"`
	Name         string    `json:"name,omitempty"`
	Roles        []string  `json:"roles,omitempty"`
	TenantID     string    `json:"tid,omitempty"`
	Branches     []string  `json:"branches,omitempty"`
	AccessToken  string    `json:"at,omitempty"`
	RefreshToken string    `json:"rt,omitempty"`
	IDToken      string    `json:"idt,omitempty"`
	AccessExpiry time.Time `json:"atx"`
	CreatedAt    time.Time `json:"cat"`
	LastSeen     time.Time `json:"lst"`
}

// Clone returns a deep copy of s.
func (s *Session) Clone() *Session {
	c := *s
	c.Roles = slices.Clone(s.Roles)
	c.Branches = slices.Clone(s.Branches)
	return &c
}

// LogValue keeps tokens out of logs even if a Session is logged by mistake.
func (s *Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user_id", s.UserID), slog.Time("created_at", s.CreatedAt))
}

// String, like LogValue, shows no token.
func (s *Session) String() string {
	return fmt.Sprintf("session{user=%q created=%s}", s.UserID, s.CreatedAt.Format(time.RFC3339))
}

// Store is the session store contract; RedisStore and Cached implement it
// (sessiontest.Run checks them), and so does the tests' in-memory
// sessiontest.Memory (sessiontest.RunContract).
type Store interface {
	// Create stores s under a new random id and returns the cookie value.
	// It sets s.CreatedAt and s.LastSeen to now; any id the client had is
	// ignored (no fixation).
	Create(ctx context.Context, s *Session) (cookie string, err error)
	// Load returns the session for cookie (a fresh copy the caller may
	// modify). Errors: ErrMalformedCookie, ErrNotFound, ErrExpired,
	// ErrUnavailable.
	Load(ctx context.Context, cookie string) (*Session, error)
	// Save replaces an existing session (ErrNotFound if it is gone; never
	// resurrects a deleted one). s.CreatedAt must be the loaded value.
	Save(ctx context.Context, cookie string, s *Session) error
	// Delete removes the session. Deleting a missing session is not an
	// error; a cookie whose secret does not open the record gets
	// ErrNotFound and the record stays.
	Delete(ctx context.Context, cookie string) error
	// DeleteUser removes every session of userID.
	DeleteUser(ctx context.Context, userID string) error
	// Lock takes the session's lock for ttl, renewed every ttl/3 until
	// release is called or ctx ends. ErrLocked if someone else holds it.
	Lock(ctx context.Context, cookie string, ttl time.Duration) (release func(), err error)
}

// Limits are the session lifetime rules.
type Limits struct {
	Lifetime    time.Duration // absolute, from CreatedAt
	IdleTimeout time.Duration // from LastSeen
}

// Check returns ErrExpired when s is past either limit at now.
func (l Limits) Check(s *Session, now time.Time) error {
	if !now.Before(s.CreatedAt.Add(l.Lifetime)) || !now.Before(s.LastSeen.Add(l.IdleTimeout)) {
		return ErrExpired
	}
	return nil
}

// ttl is how long Redis should keep s: min(absolute left, idle left).
func (l Limits) ttl(s *Session, now time.Time) time.Duration {
	return min(s.CreatedAt.Add(l.Lifetime).Sub(now), s.LastSeen.Add(l.IdleTimeout).Sub(now))
}

const (
	rawLen    = 32
	partLen   = 43 // base64url(32 bytes) without padding
	cookieLen = 2*partLen + 1
)

var b64 = base64.RawURLEncoding.Strict()

// cookieParts is a parsed cookie.
type cookieParts struct {
	id     [rawLen]byte
	secret [rawLen]byte
	hash   [sha256.Size]byte // SHA-256(id): names the Redis keys
}

func (p *cookieParts) tag() string { return b64.EncodeToString(p.hash[:]) }

// parseCookie is small enough to inline, so a caller that keeps p to
// itself (the cache's hit path) keeps it on its stack.
func parseCookie(cookie string) (*cookieParts, error) {
	p := new(cookieParts)
	if !p.parse(cookie) {
		return nil, ErrMalformedCookie
	}
	return p, nil
}

func (p *cookieParts) parse(cookie string) bool {
	if len(cookie) != cookieLen || cookie[partLen] != '.' {
		return false
	}
	if !decodePart(p.id[:], cookie[:partLen]) || !decodePart(p.secret[:], cookie[partLen+1:]) {
		return false
	}
	p.hash = sha256.Sum256(p.id[:])
	return true
}

// decodePart decodes one 43-character part into dst (32 bytes) without a
// heap copy of the string.
func decodePart(dst []byte, s string) bool {
	var buf [partLen]byte
	copy(buf[:], s)
	n, err := b64.Decode(dst, buf[:])
	return err == nil && n == rawLen
}

func newCookie() (string, *cookieParts) {
	var p cookieParts
	_, _ = rand.Read(p.id[:]) // crypto/rand.Read never fails (Go 1.24+)
	_, _ = rand.Read(p.secret[:])
	p.hash = sha256.Sum256(p.id[:])
	return b64.EncodeToString(p.id[:]) + "." + b64.EncodeToString(p.secret[:]), &p
}

// NewCookie returns a new session cookie value for a Store to hand out:
// "id.secret", two independent random 32-byte values in base64url.
func NewCookie() string {
	c, _ := newCookie()
	return c
}

// SplitCookie returns the id and secret halves of a well-formed cookie, or
// an error wrapping ErrMalformedCookie: the check every Store makes first.
func SplitCookie(cookie string) (id, secret string, err error) {
	if _, err := parseCookie(cookie); err != nil {
		return "", "", err
	}
	return cookie[:partLen], cookie[partLen+1:], nil
}

// SID is the stable, non-reversible session identifier for the gateway
// token's "sid" claim:
// base64url(SHA-256("gatewarden sid v2\x00" || SHA-256(id))). It differs
// from the Redis key hash (domain separation), so a token's sid does not
// name a Redis key; it is computed from that hash, so a session ended by
// its tag (DeleteSession) can be revoked by its sid. A malformed cookie
// gives "".
func SID(cookie string) string {
	// parseCookie's checks without its heap copy and its SHA-256 of the id,
	// which the sid does not use: one allocation, the returned string.
	if len(cookie) != cookieLen || cookie[partLen] != '.' {
		return ""
	}
	var id, secret [rawLen]byte
	if !decodePart(id[:], cookie[:partLen]) || !decodePart(secret[:], cookie[partLen+1:]) {
		return ""
	}
	hash := sha256.Sum256(id[:])
	return sidFromHash(hash[:])
}

// Tag is the id the store names a session by (SessionInfo.ID, the
// argument of RedisStore.DeleteSession and Invalidator.Session):
// base64url(SHA-256(cookie id)). It opens nothing. A malformed cookie
// gives "".
func Tag(cookie string) string {
	p, err := parseCookie(cookie)
	if err != nil {
		return ""
	}
	return p.tag()
}

// sidDomain separates the sid's hash from the Redis key's.
const sidDomain = "gatewarden sid v2\x00"
