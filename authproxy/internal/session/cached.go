package session

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Defaults for CacheConfig.
const (
	DefaultCacheTTL        = time.Second
	DefaultCacheEntries    = 10000
	DefaultChannel         = "gw:sess:inval"
	defaultHealthInterval  = 5 * time.Second
	maxResubscribeBackoff  = 2 * time.Second
	initialResubscribeWait = 50 * time.Millisecond
)

// CacheConfig configures Cached.
type CacheConfig struct {
	Store  Store                 // required: the store to wrap
	Client redis.UniversalClient // required: pub/sub for invalidations
	// Limits are enforced on cache hits; zero = Store.(interface{ Limits() Limits }).
	Limits     Limits
	TTL        time.Duration // how long an entry may be served; 0 = DefaultCacheTTL
	MaxEntries int           // 0 = DefaultCacheEntries
	Channel    string        // pub/sub channel; "" = DefaultChannel
	// HealthInterval: this often the subscriber publishes a probe on the
	// channel through Client and expects it back on its subscription within
	// another interval; otherwise it resubscribes (and bypasses the cache
	// meanwhile). This catches a dead connection and a live one to a server
	// that no longer receives the invalidations, e.g. a Sentinel master
	// demoted by a failover. 0 = 5s.
	HealthInterval time.Duration
	Now            func() time.Time // nil = time.Now
	Logger         *slog.Logger     // nil = discard
}

// Cached is a Store that keeps recently loaded sessions in memory for TTL.
//
// Save, Delete and DeleteUser publish an invalidation on a Redis channel;
// every Cached subscribed to it (every replica) drops the entry on receipt.
// While the subscription is down (not yet confirmed, connection lost), the
// cache is emptied and bypassed, so no entry is ever served longer than TTL
// after a change, and normally not after the invalidation arrives (a
// sub-millisecond window on a LAN). Absolute and idle expiry are checked on
// every hit, and a hit requires the full cookie (secret included) to match.
// LastSeen is refreshed by the wrapped store on misses, so an active user's
// session is touched at most every TTL from each replica. A hit returns the
// session without its ID token (see cachedCopy): a caller that needs the ID
// token, or that saves what it loaded, loads from the wrapped store (as
// logout and refresh do), or a Save would store the session without it.
type Cached struct {
	inner   Store
	rdb     redis.UniversalClient
	inval   *Invalidator
	limits  Limits
	ttl     time.Duration
	max     int
	channel string
	health  time.Duration
	now     func() time.Time
	log     *slog.Logger

	flight singleflight.Group // concurrent misses of one cookie (load)

	mu      sync.RWMutex
	entries map[[32]byte]*cacheEntry
	epoch   uint64    // bumped by every invalidation and subscription change
	swept   time.Time // the last pass that dropped expired entries (put)
	up      bool      // subscription confirmed

	cancel context.CancelFunc
	done   chan struct{}
}

type cacheEntry struct {
	cookie  string
	userTag string
	sess    *Session
	until   time.Time
}

var _ Store = (*Cached)(nil)

// NewCached starts the invalidation subscriber (stopped by Close) and
// returns the wrapper. The cache stays bypassed until the subscription is
// confirmed (see Ready).
func NewCached(cfg CacheConfig) (*Cached, error) {
	if cfg.Store == nil || cfg.Client == nil {
		return nil, errors.New("session: new cache: nil store or client")
	}
	if cfg.Limits == (Limits{}) {
		l, ok := cfg.Store.(interface{ Limits() Limits })
		if !ok {
			return nil, errors.New("session: new cache: no limits")
		}
		cfg.Limits = l.Limits()
	}
	if cfg.TTL < 0 || cfg.MaxEntries < 0 {
		return nil, errors.New("session: new cache: negative ttl or size")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultCacheTTL
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultCacheEntries
	}
	if cfg.Channel == "" {
		cfg.Channel = DefaultChannel
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = defaultHealthInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cached{
		inner: cfg.Store, rdb: cfg.Client, inval: NewInvalidator(cfg.Client, cfg.Channel),
		limits: cfg.Limits, ttl: cfg.TTL,
		max: cfg.MaxEntries, channel: cfg.Channel, health: cfg.HealthInterval,
		now: cfg.Now, log: cfg.Logger,
		entries: make(map[[32]byte]*cacheEntry),
		cancel:  cancel, done: make(chan struct{}),
	}
	go c.subscribe(ctx)
	return c, nil
}

// Close stops the subscriber. The wrapped store and client stay open.
func (c *Cached) Close() error {
	c.cancel()
	<-c.done
	return nil
}

// Ready reports whether the invalidation subscription is confirmed (the
// cache is in use); while false every call goes to the wrapped store.
func (c *Cached) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.up
}

// Limits returns the enforced lifetime rules.
func (c *Cached) Limits() Limits { return c.limits }

// Load implements Store.
func (c *Cached) Load(ctx context.Context, cookie string) (*Session, error) {
	p, err := parseCookie(cookie)
	if err != nil {
		return c.inner.Load(ctx, cookie) // the inner store words the error
	}
	now := c.now()
	c.mu.RLock()
	e, up, epoch := c.entries[p.hash], c.up, c.epoch
	c.mu.RUnlock()
	if up && e != nil && now.Before(e.until) &&
		subtle.ConstantTimeCompare([]byte(e.cookie), []byte(cookie)) == 1 {
		if c.limits.Check(e.sess, now) == nil {
			return e.sess.Clone(), nil
		}
		c.drop(p.hash) // expired: the inner store deletes it and says so
	}
	sess, err := c.load(ctx, cookie, p, up, epoch, now)
	if err != nil {
		if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
			c.drop(p.hash)
		}
		return nil, err
	}
	return sess, nil
}

// loaded is one load from the wrapped store, shared by the misses that
// wait for it.
type loaded struct {
	sess  *Session
	epoch uint64 // the cache's epoch when the load began
}

// load reads the session from the wrapped store and caches it. Misses on
// the same cookie at the same time share one read (the full cookie is the
// key, so only holders of the same secret share): when a busy session's
// entry expires, the requests arriving during that read wait for it instead
// of each sending a GET. A miss joins a read only if no invalidation came
// between that read's start and its own (the epochs match); otherwise it
// reads on its own, so it never gets a session read before a logout it
// came after.
func (c *Cached) load(ctx context.Context, cookie string, p *cookieParts, up bool, epoch uint64, now time.Time) (*Session, error) {
	ch := c.flight.DoChan(cookie, func() (_ any, err error) {
		// DoChan would re-panic on a goroutine of its own, where no
		// handler's recover reaches it: one bad record would end the
		// process. A panic is this load's error instead.
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("session: load: panic: %T", v)
			}
		}()
		// Detached from this caller's cancellation: others may share it.
		// The store's own timeouts bound it.
		sess, err := c.inner.Load(context.WithoutCancel(ctx), cookie)
		if err != nil {
			return nil, err
		}
		if up {
			c.put(p.hash, epoch, &cacheEntry{
				cookie: cookie, userTag: userTag(sess.UserID), sess: cachedCopy(sess), until: now.Add(c.ttl),
			})
		}
		return loaded{sess: sess, epoch: epoch}, nil
	})
	var res singleflight.Result
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("session: load: %w", ctx.Err())
	case res = <-ch:
	}
	if res.Err != nil {
		return nil, res.Err
	}
	l, shared := res.Val.(loaded), res.Shared
	if l.epoch != epoch {
		return c.inner.Load(ctx, cookie)
	}
	if shared {
		return l.sess.Clone(), nil
	}
	return l.sess, nil
}

// cachedCopy is what an entry keeps of s: every field but the ID token,
// each copied out of the decoded record. A decoded record's text fields
// share one string (codec.go), which an entry would otherwise pin whole,
// ID token included: about half of the heap a cached session holds. The
// ID token is only read at logout, which loads the session past the cache.
func cachedCopy(s *Session) *Session {
	return &Session{
		UserID: strings.Clone(s.UserID), Email: strings.Clone(s.Email), Name: strings.Clone(s.Name),
		Roles: cloneStrings(s.Roles), TenantID: strings.Clone(s.TenantID), Branches: cloneStrings(s.Branches),
		AccessToken: strings.Clone(s.AccessToken), RefreshToken: strings.Clone(s.RefreshToken),
		AccessExpiry: s.AccessExpiry, CreatedAt: s.CreatedAt, LastSeen: s.LastSeen,
	}
}

func cloneStrings(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = strings.Clone(v)
	}
	return out
}

// put stores e unless an invalidation arrived since the load began.
func (c *Cached) put(h [32]byte, epoch uint64, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up || c.epoch != epoch {
		return
	}
	if _, ok := c.entries[h]; !ok && len(c.entries) >= c.max {
		// Expired entries first, in one pass at most once per TTL (a full
		// cache under many distinct sessions would otherwise walk every
		// entry under the lock on every miss), else any one: map order is
		// random.
		if now := c.now(); !now.Before(c.swept.Add(c.ttl)) {
			c.swept = now
			for k, old := range c.entries {
				if !now.Before(old.until) {
					delete(c.entries, k)
				}
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[h] = e
}

func (c *Cached) drop(h [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.entries, h)
}

func (c *Cached) dropUser(tag string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for k, e := range c.entries {
		if e.userTag == tag {
			delete(c.entries, k)
		}
	}
}

func (c *Cached) setUp(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.up = up
	clear(c.entries)
}

// published logs an invalidation (c.inval) that did not go out: other
// replicas may serve the old entry for up to TTL.
func (c *Cached) published(ctx context.Context, err error) {
	if err != nil {
		c.log.WarnContext(ctx, "session cache invalidation not published", slog.String("error", err.Error()))
	}
}

// Create implements Store (nothing to invalidate: the id is new).
func (c *Cached) Create(ctx context.Context, s *Session) (string, error) {
	return c.inner.Create(ctx, s)
}

// Save implements Store.
func (c *Cached) Save(ctx context.Context, cookie string, s *Session) error {
	p, err := parseCookie(cookie)
	if err != nil {
		return c.inner.Save(ctx, cookie, s)
	}
	c.drop(p.hash)
	err = c.inner.Save(ctx, cookie, s)
	c.drop(p.hash)
	c.published(ctx, c.inval.Session(ctx, p.tag()))
	return err
}

// Delete implements Store.
func (c *Cached) Delete(ctx context.Context, cookie string) error {
	p, err := parseCookie(cookie)
	if err != nil {
		return c.inner.Delete(ctx, cookie)
	}
	// Dropped before and after, as Save does: a miss that begins during
	// the delete neither joins a read begun before it nor keeps what it
	// read (the epoch moved).
	c.drop(p.hash)
	err = c.inner.Delete(ctx, cookie)
	if errors.Is(err, ErrNotFound) {
		return err // not the owner: nothing changed
	}
	c.drop(p.hash)
	c.published(ctx, c.inval.Session(ctx, p.tag()))
	return err
}

// DeleteUser implements Store. Unlike a logout, a revocation is only done
// when every replica has been told: a failed publish is returned (wrapping
// ErrUnavailable), so a caller that must be sure (a webhook) fails and is
// retried; a retry deletes nothing new and publishes again.
func (c *Cached) DeleteUser(ctx context.Context, userID string) error {
	tag := userTag(userID)
	c.dropUser(tag) // before and after, as Delete
	err := c.inner.DeleteUser(ctx, userID)
	c.dropUser(tag)
	pubErr := c.inval.User(ctx, userID)
	c.published(ctx, pubErr)
	return errors.Join(err, pubErr)
}

// Lock implements Store.
func (c *Cached) Lock(ctx context.Context, cookie string, ttl time.Duration) (func(), error) {
	return c.inner.Lock(ctx, cookie, ttl)
}

// handle applies one invalidation message (invalidate.go).
func (c *Cached) handle(payload string) {
	if len(payload) < 2 || payload[1] != ':' {
		return
	}
	switch {
	case strings.HasPrefix(payload, msgSession):
		var h [32]byte
		if n, err := b64.Decode(h[:], []byte(payload[len(msgSession):])); err == nil && n == len(h) {
			c.drop(h)
			return
		}
	case strings.HasPrefix(payload, msgUser):
		c.dropUser(payload[len(msgUser):])
		return
	case strings.HasPrefix(payload, msgProbe): // some replica's health probe
		return
	}
	c.flush() // unknown message: drop everything to be safe
}

func (c *Cached) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.entries)
}

// subscribe runs until ctx ends, keeping the subscription alive and the
// up flag truthful: down on any receive error or when a probe published
// through the client does not come back within a health interval; up again
// only on the server's subscribe confirmation.
//
// The probe, not a PING on the subscription, is what proves that what
// replicas publish reaches this subscription: go-redis moves a Sentinel
// client's commands to the new master on failover but leaves open
// subscriptions on the old one, which may keep answering PING for a while.
func (c *Cached) subscribe(ctx context.Context) {
	defer close(c.done)
	var psMu sync.Mutex // Close must interrupt a blocked receive
	ps := c.rdb.Subscribe(ctx, c.channel)
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		psMu.Lock()
		defer psMu.Unlock()
		_ = ps.Close()
	}()
	wait := initialResubscribeWait
	probe := ""                     // payload of the probe in flight; "" = none
	due := time.Now().Add(c.health) // next probe, or the reply to the one in flight
	for {
		msg, err := ps.ReceiveTimeout(ctx, max(time.Until(due), time.Millisecond))
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && probe == "" {
				probe = msgProbe + rand.Text()
				due = time.Now().Add(c.health)
				if err = c.inval.publish(ctx, probe); err == nil {
					continue
				}
			}
			if c.Ready() {
				c.log.Warn("session cache subscription lost; cache bypassed", slog.String("error", err.Error()))
			}
			c.setUp(false)
			if probe != "" { // silent or misplaced subscription: start afresh
				psMu.Lock()
				_ = ps.Close()
				ps = c.rdb.Subscribe(ctx, c.channel)
				psMu.Unlock()
				probe = ""
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, maxResubscribeBackoff)
			due = time.Now().Add(c.health)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == c.channel {
				c.setUp(true)
				wait = initialResubscribeWait
				probe, due = "", time.Now().Add(c.health)
				c.log.Debug("session cache subscription confirmed")
			}
		case *redis.Message:
			if probe != "" && m.Payload == probe {
				probe, due = "", time.Now().Add(c.health)
				continue
			}
			c.handle(m.Payload)
		}
	}
}
