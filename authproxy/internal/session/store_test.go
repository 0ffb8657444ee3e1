package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/session/sessiontest"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

func newClient(t testing.TB, addr string) redis.UniversalClient {
	t.Helper()
	c := session.NewRedisClient(session.Options{Addrs: []string{addr}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newStore(t testing.TB, c redis.UniversalClient, o sessiontest.Options) *session.RedisStore {
	t.Helper()
	s, err := session.NewRedisStore(session.Config{
		Client: c, Lifetime: o.Lifetime, IdleTimeout: o.IdleTimeout, Now: o.Now, Prefix: o.Prefix,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newCached wraps s and waits until its subscription is confirmed.
func newCached(t testing.TB, s session.Store, c redis.UniversalClient, cfg session.CacheConfig) *session.Cached {
	t.Helper()
	cfg.Store, cfg.Client = s, c
	cached, err := session.NewCached(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cached.Close() })
	testkit.WaitFor(t, "cache subscription", cached.Ready)
	return cached
}

func factory(client func(t *testing.T) (redis.UniversalClient, func(time.Duration)), cached bool) sessiontest.Factory {
	return func(t *testing.T, o sessiontest.Options) sessiontest.Env {
		c, ff := client(t)
		var st session.Store = newStore(t, c, o)
		if cached {
			st = newCached(t, st, c, session.CacheConfig{Now: o.Now, Channel: o.Prefix + ":inval"})
		}
		return sessiontest.Env{Store: st, States: session.NewStateStore(c, o.Prefix), Client: c, FastForward: ff}
	}
}

func miniClient(t *testing.T) (redis.UniversalClient, func(time.Duration)) {
	m := miniredis.RunT(t)
	return newClient(t, m.Addr()), m.FastForward
}

func TestStoreMiniredis(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, factory(miniClient, false))
}

func TestCachedMiniredis(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, factory(miniClient, true))
}

func realClient(t *testing.T) func(t *testing.T) (redis.UniversalClient, func(time.Duration)) {
	srv := testkit.StartRedis(t)
	return func(t *testing.T) (redis.UniversalClient, func(time.Duration)) {
		return newClient(t, srv.Addr()), nil
	}
}

func TestStoreRedis(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, factory(realClient(t), false))
}

func TestCachedRedis(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, factory(realClient(t), true))
}

func TestNewRedisClientKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     session.Options
		cluster  bool
		wantAddr string // *redis.Client's Options().Addr
	}{
		{name: "one address: standalone", opts: session.Options{Addrs: []string{"a:6379"}, DB: 2}, wantAddr: "a:6379"},
		{name: "several addresses: cluster", opts: session.Options{Addrs: []string{"a:6379", "b:6379"}}, cluster: true},
		{name: "master name: sentinel", opts: session.Options{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster"}, wantAddr: "FailoverClient"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := session.NewRedisClient(tc.opts)
			defer func() { _ = c.Close() }()
			if tc.cluster {
				if _, ok := c.(*redis.ClusterClient); !ok {
					t.Fatalf("got %T; want *redis.ClusterClient", c)
				}
				return
			}
			rc, ok := c.(*redis.Client)
			if !ok {
				t.Fatalf("got %T; want *redis.Client", c)
			}
			if got := rc.Options().Addr; got != tc.wantAddr {
				t.Fatalf("Addr = %q; want %q", got, tc.wantAddr)
			}
			if got := rc.Options().DB; got != tc.opts.DB {
				t.Fatalf("DB = %d; want %d", got, tc.opts.DB)
			}
			// Fail fast (503 while Redis is down) with an explicit pool.
			o := rc.Options()
			if o.MaxRetries != 1 || o.DialerRetries != 1 || !o.ContextTimeoutEnabled || o.PoolSize != session.DefaultPoolSize() {
				t.Fatalf("retries %d, dial attempts %d, context timeouts %v, pool %d; want 1, 1, true, %d",
					o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled, o.PoolSize, session.DefaultPoolSize())
			}
		})
	}
}

// Two replicas (two Cached on one Redis): a change on one is seen on the
// other at once, although the cache TTL is an hour.
func TestCachedInvalidationAcrossReplicas(t *testing.T) {
	t.Parallel()
	srv := testkit.StartRedis(t)
	testInvalidationAcrossReplicas(t, func(t testing.TB) redis.UniversalClient { return newClient(t, srv.Addr()) })
}

// testInvalidationAcrossReplicas runs two Cached, each with its own client
// from newClient, on one deployment.
func testInvalidationAcrossReplicas(t *testing.T, newClient func(t testing.TB) redis.UniversalClient) {
	clock := testkit.NewClock(time.Now())
	o := sessiontest.Options{Lifetime: 12 * time.Hour, IdleTimeout: time.Hour, Now: clock.Now, Prefix: "inv"}
	cfg := session.CacheConfig{TTL: time.Hour, Now: clock.Now}
	ca, cb := newClient(t), newClient(t)
	a := newCached(t, newStore(t, ca, o), ca, cfg)
	b := newCached(t, newStore(t, cb, o), cb, cfg)
	ctx := t.Context()

	cookie, err := a.Create(ctx, &session.Session{UserID: "u1", AccessToken: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Create(ctx, &session.Session{UserID: "u1", AccessToken: "other"})
	if err != nil {
		t.Fatal(err)
	}
	load := func(c *session.Cached, cookie string) (string, error) {
		s, err := c.Load(ctx, cookie)
		if err != nil {
			return "", err
		}
		return s.AccessToken, nil
	}
	if v, err := load(b, cookie); err != nil || v != "v1" {
		t.Fatalf("b.Load = %q, %v", v, err)
	}
	// Proof that b serves from its cache: a change behind its back (not
	// through a Cached) is not seen.
	raw := newStore(t, ca, o)
	s, _ := raw.Load(ctx, cookie)
	s.AccessToken = "behind-the-back"
	if err := raw.Save(ctx, cookie, s); err != nil {
		t.Fatal(err)
	}
	if v, _ := load(b, cookie); v != "v1" {
		t.Fatalf("b.Load = %q; want the cached v1", v)
	}

	s.AccessToken = "v2"
	if err := a.Save(ctx, cookie, s); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "save invalidation", func() bool { v, _ := load(b, cookie); return v == "v2" })

	if _, err := load(b, other); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, cookie); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "delete invalidation", func() bool { _, err := load(b, cookie); return errors.Is(err, session.ErrNotFound) })

	if err := a.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "user invalidation", func() bool { _, err := load(b, other); return errors.Is(err, session.ErrNotFound) })
}

// Expiry is enforced on cache hits, whatever the cache TTL.
func TestCachedEnforcesExpiryOnHits(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	c := newClient(t, m.Addr())
	clock := testkit.NewClock(time.Now())
	o := sessiontest.Options{Lifetime: 2 * time.Hour, IdleTimeout: time.Hour, Now: clock.Now, Prefix: "exp"}
	st := newStore(t, c, o)
	cached := newCached(t, st, c, session.CacheConfig{TTL: 24 * time.Hour, Now: clock.Now})
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		advance time.Duration
	}{
		{name: "idle", advance: time.Hour},
		{name: "absolute", advance: 2 * time.Hour},
	} {
		cookie, err := cached.Create(ctx, &session.Session{UserID: "u-" + tc.name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cached.Load(ctx, cookie); err != nil {
			t.Fatal(err)
		}
		m.Del("exp:{" + session.KeyTag(cookie) + "}:s") // only the cache has it now
		if _, err := cached.Load(ctx, cookie); err != nil {
			t.Fatalf("%s: cache not used: %v", tc.name, err)
		}
		clock.Advance(tc.advance)
		if s, err := cached.Load(ctx, cookie); err == nil {
			t.Fatalf("%s: expired session served from cache: %v", tc.name, s)
		}
	}
}

// A cache hit returns every field of the session but its ID token, which
// the entry does not keep (logout reads it past the cache); the record in
// Redis keeps it.
func TestCachedHitLeavesOutIDToken(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	c := newClient(t, m.Addr())
	st := newStore(t, c, sessiontest.Options{Prefix: "idt"})
	cached := newCached(t, st, c, session.CacheConfig{TTL: time.Hour})
	ctx := t.Context()
	in := &session.Session{
		UserID: "u1", Email: "u1@example.com", Name: "U One", Roles: []string{"admin"}, TenantID: "t1",
		Branches: []string{"b1"}, AccessToken: "at", RefreshToken: "rt", IDToken: "idt",
		AccessExpiry: time.Now().Add(time.Hour).Round(0),
	}
	cookie, err := cached.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	miss, err := cached.Load(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	m.Del("idt:{" + session.KeyTag(cookie) + "}:s") // only the cache has it now
	hit, err := cached.Load(ctx, cookie)
	if err != nil {
		t.Fatalf("cache not used: %v", err)
	}
	if miss.IDToken != "idt" {
		t.Errorf("miss: ID token %q, want idt", miss.IDToken)
	}
	want := miss.Clone()
	want.IDToken = ""
	if diff := cmp.Diff(want, hit); diff != "" {
		t.Errorf("hit (-want +got):\n%s", diff)
	}
}

// When the subscription is down, the cache is bypassed: a change made while
// it cannot hear invalidations is seen at once.
func TestCachedBypassedWhileSubscriptionDown(t *testing.T) {
	t.Parallel()
	srv := testkit.StartRedis(t)
	clock := testkit.NewClock(time.Now())
	o := sessiontest.Options{Lifetime: 12 * time.Hour, IdleTimeout: time.Hour, Now: clock.Now, Prefix: "down"}
	c := newClient(t, srv.Addr())
	st := newStore(t, c, o)
	cached := newCached(t, st, c, session.CacheConfig{TTL: time.Hour, Now: clock.Now, HealthInterval: 50 * time.Millisecond})
	ctx := t.Context()
	cookie, err := cached.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cached.Load(ctx, cookie); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	testkit.WaitFor(t, "cache to notice the outage", func() bool { return !cached.Ready() })
	if _, err := cached.Load(ctx, cookie); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("Load with Redis down = %v; want ErrUnavailable (no stale cache hit)", err)
	}
	srv.Start()
	testkit.WaitFor(t, "cache subscription to return", cached.Ready)
	// The restarted Redis is empty (no persistence): the session is gone,
	// and the cache must not pretend otherwise.
	if _, err := cached.Load(ctx, cookie); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load after restart = %v; want ErrNotFound", err)
	}
}

// Redis stopped: every operation says ErrUnavailable (distinct from
// ErrNotFound); restarted: the same client works again.
func TestUnavailableAndRecovery(t *testing.T) {
	t.Parallel()
	srv := testkit.StartRedis(t)
	c := session.NewRedisClient(session.Options{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { _ = c.Close() })
	st, err := session.NewRedisStore(session.Config{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	states := session.NewStateStore(c, "")
	ctx := t.Context()
	cookie, err := st.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ops := []struct {
		name string
		run  func() error
	}{
		{"load", func() error { _, err := st.Load(opCtx, cookie); return err }},
		{"create", func() error { _, err := st.Create(opCtx, &session.Session{UserID: "u1"}); return err }},
		{"save", func() error {
			return st.Save(opCtx, cookie, &session.Session{UserID: "u1", CreatedAt: time.Now(), LastSeen: time.Now()})
		}},
		{"delete", func() error { return st.Delete(opCtx, cookie) }},
		{"delete user", func() error { return st.DeleteUser(opCtx, "u1") }},
		{"lock", func() error { _, err := st.Lock(opCtx, cookie, time.Second); return err }},
		{"state spend", func() error { return states.Spend(opCtx, "k", time.Minute) }},
		{"ping", func() error { return st.Ping(opCtx) }},
	}
	for _, op := range ops {
		err := op.run()
		if !errors.Is(err, session.ErrUnavailable) || errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s with Redis down = %v; want ErrUnavailable only", op.name, err)
		}
	}

	srv.Start()
	testkit.WaitFor(t, "client to reconnect", func() bool { return st.Ping(ctx) == nil })
	cookie, err = st.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatalf("Create after restart: %v", err)
	}
	if _, err := st.Load(ctx, cookie); err != nil {
		t.Fatalf("Load after restart: %v", err)
	}
}

// gatedStore pauses one Load after it has read Redis, to interleave a write.
type gatedStore struct {
	session.Store
	armed chan struct{} // receive to arm; closed by nothing
	read  chan struct{}
	gate  chan struct{}
}

func (g *gatedStore) Load(ctx context.Context, cookie string) (*session.Session, error) {
	s, err := g.Store.Load(ctx, cookie)
	select {
	case <-g.armed:
		g.read <- struct{}{}
		<-g.gate
	default:
	}
	return s, err
}

// A load that read the old record before a Save must not put it in the
// cache after the Save's invalidation.
func TestCachedLoadRacingSave(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	c := newClient(t, m.Addr())
	clock := testkit.NewClock(time.Now())
	o := sessiontest.Options{Lifetime: 12 * time.Hour, IdleTimeout: time.Hour, Now: clock.Now, Prefix: "race"}
	st := newStore(t, c, o)
	g := &gatedStore{Store: st, armed: make(chan struct{}, 1), read: make(chan struct{}), gate: make(chan struct{})}
	cached := newCached(t, g, c, session.CacheConfig{TTL: time.Hour, Now: clock.Now, Limits: st.Limits()})
	ctx := t.Context()
	cookie, err := cached.Create(ctx, &session.Session{UserID: "u1", AccessToken: "old"})
	if err != nil {
		t.Fatal(err)
	}
	g.armed <- struct{}{}
	done := make(chan error, 1)
	go func() { _, err := cached.Load(ctx, cookie); done <- err }()
	<-g.read // the load holds the old record
	s, err := st.Load(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	s.AccessToken = "new"
	if err := cached.Save(ctx, cookie, s); err != nil {
		t.Fatal(err)
	}
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := cached.Load(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != "new" {
		t.Fatalf("AccessToken = %q: a racing load cached the pre-save record", got.AccessToken)
	}
}

// Another replica's health probes (every HealthInterval) are not
// invalidations: they leave the cache alone.
func TestCachedIgnoresHealthProbes(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	c := newClient(t, m.Addr())
	o := sessiontest.Options{Lifetime: 12 * time.Hour, IdleTimeout: time.Hour, Now: time.Now, Prefix: "probe"}
	st := newStore(t, c, o)
	cached := newCached(t, st, c, session.CacheConfig{TTL: time.Hour, HealthInterval: time.Hour})
	newCached(t, st, c, session.CacheConfig{HealthInterval: 10 * time.Millisecond}) // the prober
	ctx := t.Context()
	cookie, err := cached.Create(ctx, &session.Session{UserID: "u1", AccessToken: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	watch := c.Subscribe(ctx, session.DefaultChannel)
	t.Cleanup(func() { _ = watch.Close() })
	if _, err := watch.Receive(ctx); err != nil { // subscribe confirmation
		t.Fatal(err)
	}
	if _, err := cached.Load(ctx, cookie); err != nil {
		t.Fatal(err)
	}
	s, err := st.Load(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	s.AccessToken = "behind-the-back"
	if err := st.Save(ctx, cookie, s); err != nil {
		t.Fatal(err)
	}
	for probes := 0; probes < 3; {
		msg, err := watch.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(msg.Payload, "p:") {
			t.Fatalf("unexpected message %q on the channel", msg.Payload)
		}
		probes++
	}
	if got, err := cached.Load(ctx, cookie); err != nil || got.AccessToken != "v1" {
		t.Fatalf("Load after probes = %v, %v; want the cached v1", got, err)
	}
}

// TestCachedDeleteUserReportsUnpublished: a revocation whose invalidation
// could not be published is reported (wrapping ErrUnavailable), so a caller
// that must be sure every replica dropped the sessions (a webhook) fails
// and is retried; the sessions themselves are deleted all the same.
func TestCachedDeleteUserReportsUnpublished(t *testing.T) {
	t.Parallel()
	data, _ := miniClient(t)
	store := newStore(t, data, sessiontest.Options{Lifetime: time.Hour, IdleTimeout: time.Hour})
	pubsub := miniredis.RunT(t)
	cached, err := session.NewCached(session.CacheConfig{Store: store, Client: newClient(t, pubsub.Addr())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cached.Close() })
	cookie, err := store.Create(t.Context(), &session.Session{UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	pubsub.Close() // the invalidation channel is gone; the data is not

	if err := cached.DeleteUser(t.Context(), "alice"); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("DeleteUser with the channel down = %v; want an error wrapping ErrUnavailable", err)
	}
	if _, err := store.Load(t.Context(), cookie); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load after DeleteUser = %v; want ErrNotFound (the delete itself succeeded)", err)
	}
}
