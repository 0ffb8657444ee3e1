package sessiontest

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// Memory is an in-memory session.Store and session.StateStore for the tests
// of packages that use a store (the server's decisions): no Redis and no
// network, so those tests run in milliseconds anywhere. It passes the
// suite's contract cases (RunContract), so through those interfaces it
// behaves as the Redis store does; what only Redis shows (key layout, TTLs,
// sealed records) is checked by Run against the real store. Several users
// of one Memory share it as replicas share Redis, locks included.
//
// SetDown makes every call fail as an unreachable Redis does (an error
// wrapping session.ErrUnavailable); Calls counts the calls that reached
// it, and Markers shows the spent login states.
type Memory struct {
	limits session.Limits
	touch  time.Duration
	now    func() time.Time
	calls  atomic.Int64

	mu       sync.Mutex
	down     bool
	sessions map[string]*memRecord // by cookie id
	locks    map[string]*memLock   // by cookie id
	markers  map[string]time.Time  // spent state -> marker expiry
}

type memRecord struct {
	secret string
	sess   *session.Session
}

// memLock is held until released or, once the context of the work it
// protects ends (and renewal with it), until its ttl has passed: what the
// Redis lock's renewal amounts to. Lock expiry is wall-clock time, as Redis
// TTLs are.
type memLock struct {
	renewing bool
	until    time.Time
}

var (
	_ session.Store      = (*Memory)(nil)
	_ session.StateStore = (*Memory)(nil)
)

// NewMemory returns an empty store with o's lifetimes (0 = the session
// package's defaults) and clock (nil = time.Now); o.Prefix is unused.
func NewMemory(o Options) *Memory {
	if o.Lifetime == 0 {
		o.Lifetime = session.DefaultLifetime
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = session.DefaultIdleTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{
		limits:   session.Limits{Lifetime: o.Lifetime, IdleTimeout: o.IdleTimeout},
		touch:    min(o.IdleTimeout/10, time.Minute), // the Redis store's default touch interval
		now:      o.Now,
		sessions: map[string]*memRecord{},
		locks:    map[string]*memLock{},
		markers:  map[string]time.Time{},
	}
}

// SetDown makes every later call fail as with Redis unreachable (down) or
// work again (up); what the store held is kept.
func (m *Memory) SetDown(down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = down
}

// Calls is the number of calls that reached the store (any method of
// session.Store and session.StateStore, and Ping).
func (m *Memory) Calls() int64 { return m.calls.Load() }

// Markers returns the spent login states that are still remembered, with
// the time each has left.
func (m *Memory) Markers() map[string]time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make(map[string]time.Duration, len(m.markers))
	for state, until := range m.markers {
		if now.Before(until) {
			out[state] = until.Sub(now)
		}
	}
	return out
}

// Ping reports an error wrapping session.ErrUnavailable while down.
func (m *Memory) Ping(context.Context) error {
	m.calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unavailable("ping")
}

// unavailable is the error every call returns while down; m.mu held.
func (m *Memory) unavailable(op string) error {
	if m.down {
		return fmt.Errorf("sessiontest: memory: %s: %w", op, session.ErrUnavailable)
	}
	return nil
}

// begin counts a call, checks the cookie, the caller's context and the
// store, and locks m.mu (released by the caller) on success. A call whose
// context is already done fails as the Redis store's does: ErrUnavailable
// wrapping the context's error.
func (m *Memory) begin(ctx context.Context, op, cookie string) (id, secret string, err error) {
	m.calls.Add(1)
	id, secret, err = session.SplitCookie(cookie)
	if err != nil {
		return "", "", fmt.Errorf("sessiontest: memory: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return "", "", fmt.Errorf("sessiontest: memory: %s: %w: %w", op, session.ErrUnavailable, err)
	}
	m.mu.Lock()
	if err := m.unavailable(op); err != nil {
		m.mu.Unlock()
		return "", "", err
	}
	return id, secret, nil
}

// owned returns the record of id when secret opens it; m.mu held.
func (m *Memory) owned(op, id, secret string) (*memRecord, error) {
	rec, ok := m.sessions[id]
	if !ok || subtle.ConstantTimeCompare([]byte(rec.secret), []byte(secret)) != 1 {
		return nil, fmt.Errorf("sessiontest: memory: %s: %w", op, session.ErrNotFound)
	}
	return rec, nil
}

// Create implements session.Store.
func (m *Memory) Create(_ context.Context, s *session.Session) (string, error) {
	m.calls.Add(1)
	if s.UserID == "" {
		return "", errors.New("sessiontest: memory: create: empty user id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable("create"); err != nil {
		return "", err
	}
	now := m.now()
	s.CreatedAt, s.LastSeen = now, now
	cookie := session.NewCookie()
	id, secret, _ := session.SplitCookie(cookie) // NewCookie's cookies are well formed
	m.sessions[id] = &memRecord{secret: secret, sess: s.Clone()}
	return cookie, nil
}

// Load implements session.Store: the limits are checked (an expired session
// is deleted) and LastSeen moves at most once per touch interval.
func (m *Memory) Load(ctx context.Context, cookie string) (*session.Session, error) {
	id, secret, err := m.begin(ctx, "load", cookie)
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	rec, err := m.owned("load", id, secret)
	if err != nil {
		return nil, err
	}
	now := m.now()
	if err := m.limits.Check(rec.sess, now); err != nil {
		delete(m.sessions, id)
		return nil, fmt.Errorf("sessiontest: memory: load: %w", err)
	}
	if now.Sub(rec.sess.LastSeen) >= m.touch {
		rec.sess.LastSeen = now
	}
	return rec.sess.Clone(), nil
}

// Save implements session.Store: it replaces an existing session of the
// cookie's owner and never resurrects a deleted one.
func (m *Memory) Save(ctx context.Context, cookie string, s *session.Session) error {
	id, secret, err := m.begin(ctx, "save", cookie)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	if err := m.limits.Check(s, m.now()); err != nil {
		return fmt.Errorf("sessiontest: memory: save: %w", err)
	}
	rec, err := m.owned("save", id, secret)
	if err != nil {
		return err
	}
	rec.sess = s.Clone()
	return nil
}

// Delete implements session.Store.
func (m *Memory) Delete(ctx context.Context, cookie string) error {
	id, secret, err := m.begin(ctx, "delete", cookie)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.sessions[id]; !ok {
		return nil
	}
	if _, err := m.owned("delete", id, secret); err != nil {
		return err // present, but not the owner's: it stays
	}
	delete(m.sessions, id)
	delete(m.locks, id)
	return nil
}

// DeleteUser implements session.Store.
func (m *Memory) DeleteUser(_ context.Context, userID string) error {
	m.calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable("delete user"); err != nil {
		return err
	}
	for id, rec := range m.sessions {
		if rec.sess.UserID == userID {
			delete(m.sessions, id)
		}
	}
	return nil
}

// Lock implements session.Store.
func (m *Memory) Lock(ctx context.Context, cookie string, ttl time.Duration) (func(), error) {
	id, _, err := m.begin(ctx, "lock", cookie)
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	if ttl < 3*time.Millisecond {
		return nil, errors.New("sessiontest: memory: lock: ttl too short")
	}
	if l, ok := m.locks[id]; ok && (l.renewing || time.Now().Before(l.until)) {
		return nil, fmt.Errorf("sessiontest: memory: lock: %w", session.ErrLocked)
	}
	l := &memLock{renewing: true}
	m.locks[id] = l
	stop := context.AfterFunc(ctx, func() { // the work is over: renewal stops
		m.mu.Lock()
		defer m.mu.Unlock()
		l.renewing, l.until = false, time.Now().Add(ttl)
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			stop()
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.locks[id] == l { // a stale release frees no one else's lock
				delete(m.locks, id)
			}
		})
	}, nil
}

// Spend implements session.StateStore.
func (m *Memory) Spend(_ context.Context, state string, ttl time.Duration) error {
	m.calls.Add(1)
	if state == "" || ttl <= 0 {
		return errors.New("sessiontest: memory: spend state: empty state or non-positive ttl")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable("spend state"); err != nil {
		return err
	}
	now := m.now()
	if until, ok := m.markers[state]; ok && now.Before(until) {
		return fmt.Errorf("sessiontest: memory: spend state: %w", session.ErrStateUsed)
	}
	m.markers[state] = now.Add(ttl)
	return nil
}
