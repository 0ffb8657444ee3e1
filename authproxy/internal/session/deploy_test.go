package session_test

// The store against real Sentinel and Cluster deployments, through the
// clients NewRedisClient picks for them.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/session/sessiontest"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

func sentinelClient(t testing.TB, d *sessiontest.Sentinel) redis.UniversalClient {
	t.Helper()
	c := session.NewRedisClient(session.Options{Addrs: []string{d.Addr()}, MasterName: sessiontest.SentinelMaster, SentinelPassword: d.Password})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func clusterClient(t testing.TB, cl *sessiontest.Cluster) redis.UniversalClient {
	t.Helper()
	c := session.NewRedisClient(session.Options{Addrs: cl.Addrs()})
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("NewRedisClient with %d addresses = %T; want *redis.ClusterClient", len(cl.Addrs()), c)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestSentinel runs the shared suite (plain and cached) and the
// cross-replica invalidation through a Sentinel client. The sentinel's
// address serves no data, so every case passing proves the client asked it
// for the master.
//
// The sentinel requires a password (requirepass): a client without it, or
// with a wrong one, cannot find the master.
func TestSentinel(t *testing.T) {
	t.Parallel()
	d := sessiontest.StartSentinelAuth(t, "sentinel-pw")
	newClient := func(t testing.TB) redis.UniversalClient { return sentinelClient(t, d) }
	runDeployment(t, newClient)
	t.Run("sentinel password required", func(t *testing.T) {
		t.Parallel()
		for _, pw := range []string{"", "wrong"} {
			c := session.NewRedisClient(session.Options{Addrs: []string{d.Addr()}, MasterName: sessiontest.SentinelMaster, SentinelPassword: pw})
			err := c.Set(t.Context(), "k", "v", time.Minute).Err()
			_ = c.Close()
			if err == nil {
				t.Errorf("sentinel password %q accepted", pw)
			}
		}
	})
}

// TestCluster does the same on a three-master Redis Cluster: a CROSSSLOT
// error from any multi-key command or script would fail a case.
func TestCluster(t *testing.T) {
	t.Parallel()
	cl := sessiontest.StartCluster(t, 3)
	newClient := func(t testing.TB) redis.UniversalClient { return clusterClient(t, cl) }
	runDeployment(t, newClient)
	t.Run("key placement", func(t *testing.T) {
		t.Parallel()
		testClusterKeyPlacement(t, cl)
	})
	t.Run("delete user across nodes", func(t *testing.T) {
		t.Parallel()
		testClusterDeleteUser(t, cl)
	})
	t.Run("invalidation published on every node", func(t *testing.T) {
		t.Parallel()
		testClusterInvalidationFromEveryNode(t, cl)
	})
}

func runDeployment(t *testing.T, newClient func(t testing.TB) redis.UniversalClient) {
	client := func(t *testing.T) (redis.UniversalClient, func(time.Duration)) { return newClient(t), nil }
	t.Run("store", func(t *testing.T) {
		t.Parallel()
		sessiontest.Run(t, factory(client, false))
	})
	t.Run("cached", func(t *testing.T) {
		t.Parallel()
		sessiontest.Run(t, factory(client, true))
	})
	t.Run("invalidation across replicas", func(t *testing.T) {
		t.Parallel()
		testInvalidationAcrossReplicas(t, newClient)
	})
}

// nodeKeys maps each key matching pattern to the address of the node that
// holds it.
func nodeKeys(t *testing.T, cl *sessiontest.Cluster, pattern string) map[string]string {
	t.Helper()
	at := map[string]string{}
	for _, addr := range cl.Addrs() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		keys, err := sessiontest.ScanAll(t.Context(), c, pattern)
		_ = c.Close()
		if err != nil {
			t.Fatalf("scan %s: %v", addr, err)
		}
		for _, k := range keys {
			at[k] = addr
		}
	}
	return at
}

// A session's record and lock share one slot (its hash tag), so the
// two-key DEL in Delete is legal; the user index hashes on the user's tag.
func testClusterKeyPlacement(t *testing.T, cl *sessiontest.Cluster) {
	c := clusterClient(t, cl)
	ctx := t.Context()
	o := sessiontest.Options{Now: time.Now, Prefix: "place"}
	st := newStore(t, c, o)
	cookie, err := st.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	release, err := st.Lock(ctx, cookie, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := session.NewStateStore(c, "place").Spend(ctx, "some-state", time.Minute); err != nil {
		t.Fatal(err)
	}

	tag := session.KeyTag(cookie)
	rec, lock := "place:{"+tag+"}:s", "place:{"+tag+"}:lock"
	at := nodeKeys(t, cl, "place:*")
	if len(at) != 4 {
		t.Fatalf("keys %v; want record, lock, index and state", at)
	}
	slot := func(key string) int64 {
		s, err := c.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if at[rec] == "" || at[lock] != at[rec] {
		t.Fatalf("record on %q, lock on %q; want both on one node", at[rec], at[lock])
	}
	if slot(rec) != slot(lock) || slot(rec) != slot(tag) {
		t.Fatalf("slots: record %d, lock %d, tag %d; want all equal", slot(rec), slot(lock), slot(tag))
	}
	for k := range at {
		if k == rec || k == lock {
			continue
		}
		switch {
		case strings.HasPrefix(k, "place:{u:") && strings.HasSuffix(k, "}:idx"):
			inner := strings.TrimSuffix(strings.TrimPrefix(k, "place:{"), "}:idx")
			if slot(k) != slot(inner) {
				t.Fatalf("index %s in slot %d; want its tag's slot %d", k, slot(k), slot(inner))
			}
		case strings.HasPrefix(k, "place:st:"):
		default:
			t.Fatalf("unexpected key %s", k)
		}
	}
	// Delete removes record and lock in one DEL (no CROSSSLOT) and the index entry.
	release()
	if err := st.Delete(ctx, cookie); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if left := nodeKeys(t, cl, "place:{"+tag+"}:*"); len(left) != 0 {
		t.Fatalf("keys left after Delete: %v", left)
	}
}

// One user's sessions spread over every node; DeleteUser reaches them all.
func testClusterDeleteUser(t *testing.T, cl *sessiontest.Cluster) {
	c := clusterClient(t, cl)
	ctx := t.Context()
	st := newStore(t, c, sessiontest.Options{Now: time.Now, Prefix: "spread"})
	// 48 random slots miss one of 3 nodes with probability 3*(2/3)^48 < 1e-8.
	cookies := make([]string, 48)
	for i := range cookies {
		var err error
		if cookies[i], err = st.Create(ctx, &session.Session{UserID: "u1"}); err != nil {
			t.Fatal(err)
		}
	}
	other, err := st.Create(ctx, &session.Session{UserID: "u2"})
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	for _, addr := range nodeKeys(t, cl, "spread:*:s") {
		nodes[addr] = true
	}
	if len(nodes) != len(cl.Nodes) {
		t.Fatalf("sessions on %d nodes; want all %d", len(nodes), len(cl.Nodes))
	}
	if err := st.DeleteUser(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for i, cookie := range cookies {
		if _, err := st.Load(ctx, cookie); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("session %d after DeleteUser: %v; want ErrNotFound", i, err)
		}
	}
	if _, err := st.Load(ctx, other); err != nil {
		t.Fatalf("other user's session: %v", err)
	}
	if left := nodeKeys(t, cl, "spread:*:s"); len(left) != 1 {
		t.Fatalf("records left: %v; want only the other user's", left)
	}
}

// The cache's subscription lives on the node owning its channel's slot; an
// invalidation PUBLISHed on any node reaches it over the cluster bus.
func testClusterInvalidationFromEveryNode(t *testing.T, cl *sessiontest.Cluster) {
	c := clusterClient(t, cl)
	ctx := t.Context()
	o := sessiontest.Options{Now: time.Now, Prefix: "bus"}
	st := newStore(t, c, o)
	const channel = "bus:inval"
	cached := newCached(t, st, c, session.CacheConfig{TTL: time.Hour, Channel: channel})
	cookie, err := cached.Create(ctx, &session.Session{UserID: "u1", AccessToken: "v0"})
	if err != nil {
		t.Fatal(err)
	}
	for i, addr := range cl.Addrs() {
		if _, err := cached.Load(ctx, cookie); err != nil { // cached now
			t.Fatal(err)
		}
		// A change behind the cache's back is not seen ...
		s, err := st.Load(ctx, cookie)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("v%d", i+1)
		s.AccessToken = want
		if err := st.Save(ctx, cookie, s); err != nil {
			t.Fatal(err)
		}
		if got, _ := cached.Load(ctx, cookie); got == nil || got.AccessToken == want {
			t.Fatalf("node %d: cache not in use (got %v)", i, got)
		}
		// ... until the invalidation is published, here on node i.
		n := redis.NewClient(&redis.Options{Addr: addr})
		err = n.Publish(ctx, channel, "s:"+session.KeyTag(cookie)).Err()
		_ = n.Close()
		if err != nil {
			t.Fatalf("publish on %s: %v", addr, err)
		}
		testkit.WaitFor(t, "invalidation from "+addr, func() bool {
			s, err := cached.Load(ctx, cookie)
			return err == nil && s.AccessToken == want
		})
	}
}

// After SENTINEL FAILOVER the same clients follow the new master: sessions
// written before it (replicated) still load, writes land on the new
// master, and the caches resubscribe there (the demoted master, still up,
// no longer hears the replicas' invalidations), so invalidations flow again.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	d := sessiontest.StartSentinel(t)
	ctx := t.Context()
	o := sessiontest.Options{Lifetime: 12 * time.Hour, IdleTimeout: time.Hour, Now: time.Now, Prefix: "fo"}
	ca, cb := sentinelClient(t, d), sentinelClient(t, d)
	st := newStore(t, ca, o)
	cfg := session.CacheConfig{TTL: time.Hour, HealthInterval: 100 * time.Millisecond}
	a := newCached(t, st, ca, cfg)
	b := newCached(t, newStore(t, cb, o), cb, cfg)

	before, err := a.Create(ctx, &session.Session{UserID: "u1", AccessToken: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ca.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT for the replica = %d, %v", n, err)
	}

	d.Failover(t)
	newMaster := redis.NewClient(&redis.Options{Addr: d.Replica.Addr()})
	t.Cleanup(func() { _ = newMaster.Close() })
	// The client switches on the sentinel's +switch-master; until then a
	// write may still reach the old master.
	testkit.WaitFor(t, "writes to reach the new master", func() bool {
		c, err := st.Create(ctx, &session.Session{UserID: "u2"})
		return err == nil && newMaster.Exists(ctx, "fo:{"+session.KeyTag(c)+"}:s").Val() == 1
	})
	testkit.WaitFor(t, "both caches to resubscribe on the new master", func() bool {
		return newMaster.PubSubNumSub(ctx, session.DefaultChannel).Val()[session.DefaultChannel] == 2 &&
			a.Ready() && b.Ready()
	})

	if _, err := b.Load(ctx, before); err != nil { // b caches it
		t.Fatalf("Load of a session made before the failover: %v", err)
	}
	s, err := st.Load(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	s.AccessToken = "behind-the-back" // not through a Cached: no invalidation
	if err := st.Save(ctx, before, s); err != nil {
		t.Fatalf("Save after the failover: %v", err)
	}
	if got, err := b.Load(ctx, before); err != nil || got.AccessToken != "v1" {
		t.Fatalf("b.Load = %v, %v; want the cached v1", got, err)
	}
	s.AccessToken = "v2"
	if err := a.Save(ctx, before, s); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "invalidation after the failover", func() bool {
		s, err := b.Load(ctx, before)
		return err == nil && s.AccessToken == "v2"
	})
	release, err := a.Lock(ctx, before, 10*time.Second)
	if err != nil {
		t.Fatalf("Lock after the failover: %v", err)
	}
	release()
	if err := a.DeleteUser(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUser after the failover: %v", err)
	}
	testkit.WaitFor(t, "revocation to reach the other replica", func() bool {
		_, err := b.Load(ctx, before)
		return errors.Is(err, session.ErrNotFound)
	})
}
