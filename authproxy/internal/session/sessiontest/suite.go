// Package sessiontest is the one conformance suite every session.Store must
// pass (in the manner of oauth2-proxy's pkg/sessions/tests), the in-memory
// store that the packages using a store test against (Memory, which passes
// the suite's contract cases), and real Redis deployments (Sentinel, Cluster)
// made of the test kit's redis-servers.
package sessiontest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// Options are what a case asks the factory for.
type Options struct {
	Lifetime    time.Duration
	IdleTimeout time.Duration
	Now         func() time.Time // the store (and any cache) must use this clock
	Prefix      string           // unique per case: pass to session.Config.Prefix and the state store
}

// Env is what the factory returns for one case.
type Env struct {
	Store  session.Store
	States session.StateStore
	// Client reaches the same Redis, for inspection and tampering.
	Client redis.UniversalClient
	// FastForward advances Redis's own clock (miniredis); nil on a real
	// redis-server, where TTLs pass in real time.
	FastForward func(time.Duration)
}

// Factory builds a fresh store for one case; it registers its own cleanup.
type Factory func(t *testing.T, o Options) Env

const (
	lifetime = 2 * time.Hour
	idle     = time.Hour // the default touch interval is then 1m
)

type fixture struct {
	t     *testing.T
	ctx   context.Context
	env   Env
	clock *testkit.Clock
	pfx   string
	// redis: the store keeps its data in Redis (Env.Client), and the case
	// also checks what Redis holds.
	redis bool
}

func newFixture(t *testing.T, newEnv Factory, redis bool) *fixture {
	t.Helper()
	clock := testkit.NewClock(time.Now().Truncate(time.Millisecond))
	pfx := "t" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	env := newEnv(t, Options{Lifetime: lifetime, IdleTimeout: idle, Now: clock.Now, Prefix: pfx})
	if redis && env.Client == nil {
		t.Fatal("sessiontest.Run needs Env.Client; a store without Redis runs RunContract")
	}
	return &fixture{t: t, ctx: t.Context(), env: env, clock: clock, pfx: pfx, redis: redis}
}

func sample(user string) *session.Session {
	return &session.Session{
		UserID:       user,
		Email:        user + "@mail.example",
		Name:         "Name of " + user,
		Roles:        []string{"admin", "user"},
		TenantID:     "tenant-1",
		Branches:     []string{"1", "2"},
		AccessToken:  "AT-secret-" + user,
		RefreshToken: "RT-secret-" + user,
		IDToken:      "IDT-secret-" + user,
		AccessExpiry: time.Unix(1_900_000_000, 0).UTC(),
	}
}

func (f *fixture) create(s *session.Session) string {
	f.t.Helper()
	c, err := f.env.Store.Create(f.ctx, s)
	if err != nil {
		f.t.Fatalf("Create: %v", err)
	}
	return c
}

func (f *fixture) mustLoad(cookie string) *session.Session {
	f.t.Helper()
	s, err := f.env.Store.Load(f.ctx, cookie)
	if err != nil {
		f.t.Fatalf("Load: %v", err)
	}
	return s
}

func (f *fixture) loadErr(cookie string, want error) {
	f.t.Helper()
	s, err := f.env.Store.Load(f.ctx, cookie)
	if !errors.Is(err, want) {
		f.t.Fatalf("Load = %v, %v; want error %v", s, err, want)
	}
}

// keys lists this case's keys matching pattern (after the prefix), on
// every node of a cluster.
func (f *fixture) keys(pattern string) []string {
	f.t.Helper()
	out, err := ScanAll(f.ctx, f.env.Client, f.pfx+pattern)
	if err != nil {
		f.t.Fatalf("scan: %v", err)
	}
	return out
}

// sessionKeys returns the session record keys.
func (f *fixture) sessionKeys() []string { return f.keys(":*:s") }

// onlySessionKey returns the single record key of this case.
func (f *fixture) onlySessionKey() string {
	f.t.Helper()
	ks := f.sessionKeys()
	if len(ks) != 1 {
		f.t.Fatalf("want 1 session key, have %q", ks)
	}
	return ks[0]
}

func (f *fixture) raw(key string) []byte {
	f.t.Helper()
	b, err := f.env.Client.Get(f.ctx, key).Bytes()
	if err != nil {
		f.t.Fatalf("GET %s: %v", key, err)
	}
	return b
}

func (f *fixture) pttl(key string) time.Duration {
	f.t.Helper()
	d, err := f.env.Client.PTTL(f.ctx, key).Result()
	if err != nil {
		f.t.Fatalf("PTTL: %v", err)
	}
	return d
}

func (f *fixture) advance(d time.Duration) { f.clock.Advance(d) }

// Run runs every case against Redis-backed stores built by newEnv (Env.Client
// set): the contract through the Store and StateStore interfaces, and what
// Redis holds (key layout, TTLs, sealed records, tampering).
func Run(t *testing.T, newEnv Factory) { run(t, newEnv, true) }

// RunContract runs the contract cases only, for a store with no Redis
// behind it (Memory): everything a caller of Store and StateStore can see.
func RunContract(t *testing.T, newEnv Factory) { run(t, newEnv, false) }

func run(t *testing.T, newEnv Factory, redis bool) {
	cases := []struct {
		name      string
		run       func(f *fixture)
		redisOnly bool // looks only at what Redis holds
	}{
		{name: "create and load round trip", run: testRoundTrip},
		{name: "create makes a new id every time", run: testNewIDs},
		{name: "made-up cookie is not adopted", run: testMadeUp},
		{name: "malformed cookies", run: testMalformed},
		{name: "wrong secret", run: testWrongSecret},
		{name: "flipped ciphertext in redis", run: testFlipped, redisOnly: true},
		{name: "record swapped between ids", run: testSwapped, redisOnly: true},
		{name: "save replaces and never resurrects", run: testSave},
		{name: "delete", run: testDelete},
		{name: "absolute lifetime", run: testAbsolute},
		{name: "idle timeout", run: testIdle},
		{name: "touch extends idle, at most once per interval", run: testTouch},
		{name: "redis ttl follows the limits", run: testTTL, redisOnly: true},
		{name: "redis expires the record", run: testRedisExpiry, redisOnly: true},
		{name: "user index revokes all sessions", run: testDeleteUser},
		{name: "lock is exclusive", run: testLockExclusive},
		{name: "lock is renewed while held", run: testLockRenewal},
		{name: "lock renewal stops with its context", run: testLockContext},
		{name: "wait lock", run: testWaitLock},
		{name: "state is single use", run: testState},
		{name: "sid", run: testSID},
		{name: "redis dump holds no secrets", run: testDump, redisOnly: true},
	}
	for _, tc := range cases {
		if tc.redisOnly && !redis {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(newFixture(t, newEnv, redis))
		})
	}
}

func testRoundTrip(f *fixture) {
	in := sample("u1")
	cookie := f.create(in)
	if len(cookie) != 87 || strings.Count(cookie, ".") != 1 || strings.ContainsAny(cookie, "=+/ ;,") {
		f.t.Fatalf("cookie %q: want id.secret, base64url, 87 chars", cookie)
	}
	want := sample("u1")
	want.CreatedAt, want.LastSeen = f.clock.Now(), f.clock.Now()
	if diff := cmp.Diff(want, in); diff != "" {
		f.t.Errorf("Create did not set CreatedAt/LastSeen (-want +got):\n%s", diff)
	}
	got := f.mustLoad(cookie)
	if diff := cmp.Diff(want, got); diff != "" {
		f.t.Errorf("Load (-want +got):\n%s", diff)
	}
	// The returned session is the caller's own copy.
	got.Roles[0] = "mutated"
	got.AccessToken = "mutated"
	if again := f.mustLoad(cookie); again.Roles[0] != "admin" || again.AccessToken != want.AccessToken {
		f.t.Errorf("mutating a loaded session changed the store: %+v", again.Roles)
	}
}

func testNewIDs(f *fixture) {
	s := sample("u1")
	a := f.create(s)
	b := f.create(s) // same struct, e.g. a second login: still a new id
	if a == b || a[:43] == b[:43] || a[44:] == b[44:] {
		f.t.Fatalf("Create reused an id or secret: %q %q", a, b)
	}
	if session.SID(a) == session.SID(b) {
		f.t.Fatal("two sessions share a SID")
	}
	f.mustLoad(a)
	f.mustLoad(b)
	if !f.redis {
		return
	}
	if n := len(f.sessionKeys()); n != 2 {
		f.t.Fatalf("want 2 records, have %d", n)
	}
}

func testMadeUp(f *fixture) {
	f.create(sample("u1"))
	// Well-formed but never issued (an attacker's pre-set cookie).
	madeUp := strings.Repeat("A", 43) + "." + strings.Repeat("B", 42) + "A"
	f.loadErr(madeUp, session.ErrNotFound)
	attacker := sample("attacker")
	attacker.CreatedAt, attacker.LastSeen = f.clock.Now(), f.clock.Now()
	if err := f.env.Store.Save(f.ctx, madeUp, attacker); !errors.Is(err, session.ErrNotFound) {
		f.t.Fatalf("Save of a made-up cookie = %v; want ErrNotFound (no adoption)", err)
	}
	f.loadErr(madeUp, session.ErrNotFound)
}

func testMalformed(f *fixture) {
	good := f.create(sample("u1"))
	id, secret := good[:43], good[44:]
	for _, c := range []struct{ name, cookie string }{
		{"empty", ""},
		{"id only", id},
		{"no separator", id + secret},
		{"three parts", id + "." + secret + ".x"},
		{"padded base64", id + "=." + secret},
		{"std base64 alphabet", "+" + id[1:] + "." + secret},
		{"short secret", id + "." + secret[:42]},
		{"long secret", id + "." + secret + "A"},
		{"space", id + "." + secret[:42] + " "},
		{"non-canonical trailing bits", id[:42] + string(nonCanonical(id[42])) + "." + secret},
	} {
		if _, err := f.env.Store.Load(f.ctx, c.cookie); !errors.Is(err, session.ErrMalformedCookie) {
			f.t.Errorf("%s: Load err = %v; want ErrMalformedCookie", c.name, err)
		}
		if err := f.env.Store.Delete(f.ctx, c.cookie); !errors.Is(err, session.ErrMalformedCookie) {
			f.t.Errorf("%s: Delete err = %v; want ErrMalformedCookie", c.name, err)
		}
		if _, err := f.env.Store.Lock(f.ctx, c.cookie, time.Second); !errors.Is(err, session.ErrMalformedCookie) {
			f.t.Errorf("%s: Lock err = %v; want ErrMalformedCookie", c.name, err)
		}
		if session.SID(c.cookie) != "" {
			f.t.Errorf("%s: SID of a malformed cookie is not empty", c.name)
		}
	}
	f.mustLoad(good)
}

// nonCanonical returns a base64url character that decodes to the same bits
// as c in the last position of a 43-character encoding but is not c (the
// two spare bits set), or c itself when none exists.
func nonCanonical(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i|1]
}

func testWrongSecret(f *fixture) {
	good := f.create(sample("u1"))
	f.mustLoad(good) // a cache, if any, now holds it
	other := f.create(sample("u2"))
	forged := good[:44] + other[44:] // right id, someone else's secret
	f.loadErr(forged, session.ErrNotFound)
	if err := f.env.Store.Delete(f.ctx, forged); !errors.Is(err, session.ErrNotFound) {
		f.t.Fatalf("Delete with a wrong secret = %v; want ErrNotFound", err)
	}
	attacker := sample("attacker")
	attacker.CreatedAt, attacker.LastSeen = f.clock.Now(), f.clock.Now()
	if err := f.env.Store.Save(f.ctx, forged, attacker); !errors.Is(err, session.ErrNotFound) {
		f.t.Fatalf("Save with a wrong secret = %v; want ErrNotFound", err)
	}
	f.loadErr(forged, session.ErrNotFound)
	// The real owner is unaffected.
	if s := f.mustLoad(good); s.UserID != "u1" {
		f.t.Fatalf("owner's session changed: %q", s.UserID)
	}
}

func testFlipped(f *fixture) {
	cookie := f.create(sample("u1"))
	key := f.onlySessionKey()
	b := f.raw(key)
	for _, i := range []int{0, 1, len(b) / 2, len(b) - 1} {
		t := bytes.Clone(b)
		t[i] ^= 0x01
		if err := f.env.Client.Set(f.ctx, key, t, time.Hour).Err(); err != nil {
			f.t.Fatal(err)
		}
		f.loadErr(cookie, session.ErrNotFound)
	}
	for _, t := range [][]byte{nil, b[:10], append(bytes.Clone(b), 0)} {
		if err := f.env.Client.Set(f.ctx, key, t, time.Hour).Err(); err != nil {
			f.t.Fatal(err)
		}
		f.loadErr(cookie, session.ErrNotFound)
	}
	if err := f.env.Client.Set(f.ctx, key, b, time.Hour).Err(); err != nil {
		f.t.Fatal(err)
	}
	f.mustLoad(cookie) // the untouched record still opens
}

func testSwapped(f *fixture) {
	victim := f.create(sample("victim"))
	kVictim := f.onlySessionKey()
	attacker := f.create(sample("attacker"))
	var kAttacker string
	for _, k := range f.sessionKeys() {
		if k != kVictim {
			kAttacker = k
		}
	}
	// Someone with Redis write access copies the victim's record under the
	// attacker's key: the attacker's cookie must not open it.
	if err := f.env.Client.Set(f.ctx, kAttacker, f.raw(kVictim), time.Hour).Err(); err != nil {
		f.t.Fatal(err)
	}
	f.loadErr(attacker, session.ErrNotFound)
	// Nor does the attacker's secret with the victim's id, nor the victim's
	// secret with the attacker's id.
	f.loadErr(victim[:44]+attacker[44:], session.ErrNotFound)
	f.loadErr(attacker[:44]+victim[44:], session.ErrNotFound)
	f.mustLoad(victim)
}

func testSave(f *fixture) {
	cookie := f.create(sample("u1"))
	s := f.mustLoad(cookie)
	s.AccessToken, s.RefreshToken = "AT-2", "RT-2"
	s.Roles = []string{"user"}
	if err := f.env.Store.Save(f.ctx, cookie, s); err != nil {
		f.t.Fatalf("Save: %v", err)
	}
	got := f.mustLoad(cookie)
	if diff := cmp.Diff(s, got); diff != "" {
		f.t.Fatalf("after Save (-want +got):\n%s", diff)
	}
	if err := f.env.Store.Delete(f.ctx, cookie); err != nil {
		f.t.Fatal(err)
	}
	if err := f.env.Store.Save(f.ctx, cookie, s); !errors.Is(err, session.ErrNotFound) {
		f.t.Fatalf("Save after Delete = %v; want ErrNotFound", err)
	}
	if f.redis {
		if ks := f.sessionKeys(); len(ks) != 0 {
			f.t.Fatalf("Save resurrected a deleted session: %q", ks)
		}
	}
	f.loadErr(cookie, session.ErrNotFound)
}

func testDelete(f *fixture) {
	a := f.create(sample("u1"))
	b := f.create(sample("u1"))
	f.mustLoad(a)
	if err := f.env.Store.Delete(f.ctx, a); err != nil {
		f.t.Fatalf("Delete: %v", err)
	}
	f.loadErr(a, session.ErrNotFound)
	f.mustLoad(b)
	if err := f.env.Store.Delete(f.ctx, a); err != nil {
		f.t.Fatalf("second Delete = %v; want nil (idempotent)", err)
	}
	if !f.redis {
		return
	}
	// The index forgets it: revoking the user touches only b.
	idx := f.keys(":{u:*}:idx")
	if len(idx) != 1 {
		f.t.Fatalf("index keys: %q", idx)
	}
	if n := f.env.Client.ZCard(f.ctx, idx[0]).Val(); n != 1 {
		f.t.Fatalf("index holds %d members after Delete; want 1", n)
	}
}

func testAbsolute(f *fixture) {
	cookie := f.create(sample("u1"))
	// Stay active (touch every 50m, inside the 1h idle timeout) ...
	for elapsed := time.Duration(0); elapsed+50*time.Minute < lifetime; elapsed += 50 * time.Minute {
		f.advance(50 * time.Minute)
		f.mustLoad(cookie)
	}
	// ... and still be logged out at the absolute lifetime.
	f.advance(lifetime - 100*time.Minute)
	f.loadErr(cookie, session.ErrExpired)
	if f.redis {
		if ks := f.sessionKeys(); len(ks) != 0 {
			f.t.Fatalf("expired record not deleted: %q", ks)
		}
	}
	f.loadErr(cookie, session.ErrNotFound)
}

func testIdle(f *fixture) {
	cookie := f.create(sample("u1"))
	other := f.create(sample("u2"))
	f.advance(idle - time.Second)
	f.mustLoad(other) // touches other only
	f.advance(time.Second)
	f.loadErr(cookie, session.ErrExpired)
	if f.redis {
		if n := len(f.sessionKeys()); n != 1 {
			f.t.Fatalf("want only the active record left, have %d", n)
		}
	}
	f.loadErr(cookie, session.ErrNotFound) // deleted, not just refused
	f.mustLoad(other)
}

func testTouch(f *fixture) {
	created := f.clock.Now()
	cookie := f.create(sample("u1"))
	var key string
	var before []byte
	if f.redis {
		key = f.onlySessionKey()
		before = f.raw(key)
	}
	f.advance(time.Second)
	f.mustLoad(cookie)
	if s := f.mustLoad(cookie); !s.LastSeen.Equal(created) {
		f.t.Fatalf("LastSeen = %s within the touch interval; want the creation time %s", s.LastSeen, created)
	}
	if f.redis && !bytes.Equal(before, f.raw(key)) {
		f.t.Fatal("Load rewrote the record within the touch interval")
	}
	for range 2 { // 2 x 50m > idle: survives only if touched
		f.advance(50 * time.Minute)
		s := f.mustLoad(cookie)
		if !s.LastSeen.Equal(f.clock.Now()) {
			f.t.Fatalf("LastSeen = %s; want now %s", s.LastSeen, f.clock.Now())
		}
	}
	if f.redis && bytes.Equal(before, f.raw(key)) {
		f.t.Fatal("record never touched")
	}
}

func testTTL(f *fixture) {
	cookie := f.create(sample("u1"))
	key := f.onlySessionKey()
	if d := f.pttl(key); d <= idle-time.Minute || d > idle {
		f.t.Fatalf("TTL after Create = %s; want about %s (idle)", d, idle)
	}
	f.advance(55 * time.Minute)
	f.mustLoad(cookie)
	f.advance(55 * time.Minute)
	f.mustLoad(cookie) // 10m of absolute lifetime left
	if d := f.pttl(key); d <= 9*time.Minute || d > 10*time.Minute {
		f.t.Fatalf("TTL near the absolute end = %s; want about 10m", d)
	}
	var idx string
	if ks := f.keys(":{u:*}:idx"); len(ks) == 1 {
		idx = ks[0]
	} else {
		f.t.Fatalf("index keys %q", ks)
	}
	if d := f.pttl(idx); d <= 0 || d > lifetime {
		f.t.Fatalf("index TTL = %s; want in (0, %s]", d, lifetime)
	}
}

func testRedisExpiry(f *fixture) {
	if f.env.FastForward == nil {
		f.t.Skip("needs a Redis clock to fast-forward (miniredis); TTLs are checked in the ttl case")
	}
	cookie := f.create(sample("u1"))
	f.env.FastForward(idle + time.Second) // Redis time only
	f.loadErr(cookie, session.ErrNotFound)
}

func testDeleteUser(f *fixture) {
	a1 := f.create(sample("u1"))
	a2 := f.create(sample("u1"))
	b := f.create(sample("u2"))
	f.mustLoad(a1)
	f.mustLoad(a2)
	f.mustLoad(b)
	if err := f.env.Store.DeleteUser(f.ctx, "u1"); err != nil {
		f.t.Fatalf("DeleteUser: %v", err)
	}
	f.loadErr(a1, session.ErrNotFound)
	f.loadErr(a2, session.ErrNotFound)
	f.mustLoad(b)
	if err := f.env.Store.DeleteUser(f.ctx, "nobody"); err != nil {
		f.t.Fatalf("DeleteUser of an unknown user: %v", err)
	}
	// A session created after the revocation is indexed again.
	a3 := f.create(sample("u1"))
	if err := f.env.Store.DeleteUser(f.ctx, "u1"); err != nil {
		f.t.Fatal(err)
	}
	f.loadErr(a3, session.ErrNotFound)
}

func testLockExclusive(f *fixture) {
	a := f.create(sample("u1"))
	b := f.create(sample("u2"))
	release, err := f.env.Store.Lock(f.ctx, a, 10*time.Second)
	if err != nil {
		f.t.Fatalf("Lock: %v", err)
	}
	if _, err := f.env.Store.Lock(f.ctx, a, 10*time.Second); !errors.Is(err, session.ErrLocked) {
		f.t.Fatalf("second Lock = %v; want ErrLocked", err)
	}
	// Another session's lock is independent.
	rb, err := f.env.Store.Lock(f.ctx, b, 10*time.Second)
	if err != nil {
		f.t.Fatalf("Lock of another session: %v", err)
	}
	rb()
	release()
	release() // idempotent
	r2, err := f.env.Store.Lock(f.ctx, a, 10*time.Second)
	if err != nil {
		f.t.Fatalf("Lock after release: %v", err)
	}
	// A stale release (the first holder again) must not free r2's lock.
	release()
	if _, err := f.env.Store.Lock(f.ctx, a, 10*time.Second); !errors.Is(err, session.ErrLocked) {
		f.t.Fatalf("Lock after a stale release = %v; want ErrLocked", err)
	}
	r2()
}

// holdFor checks, for at least d of real time, that the lock on cookie
// stays taken, advancing a fake Redis clock alongside when there is one.
func (f *fixture) holdFor(cookie string, d time.Duration) {
	f.t.Helper()
	const step = 25 * time.Millisecond
	for start := time.Now(); time.Since(start) < d; {
		if f.env.FastForward != nil {
			f.env.FastForward(step)
		}
		if _, err := f.env.Store.Lock(f.ctx, cookie, time.Second); !errors.Is(err, session.ErrLocked) {
			f.t.Fatalf("lock lost after %s: %v", time.Since(start), err)
		}
		time.Sleep(step) // real time must pass for the renewal to be tested
	}
}

func testLockRenewal(f *fixture) {
	cookie := f.create(sample("u1"))
	const ttl = 300 * time.Millisecond
	release, err := f.env.Store.Lock(f.ctx, cookie, ttl)
	if err != nil {
		f.t.Fatal(err)
	}
	f.holdFor(cookie, 4*ttl) // far past the ttl: held only if renewed
	release()
	r, err := f.env.Store.Lock(f.ctx, cookie, ttl)
	if err != nil {
		f.t.Fatalf("Lock after release: %v", err)
	}
	r()
}

func testLockContext(f *fixture) {
	cookie := f.create(sample("u1"))
	const ttl = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(f.ctx)
	release, err := f.env.Store.Lock(ctx, cookie, ttl)
	if err != nil {
		f.t.Fatal(err)
	}
	defer release()
	cancel() // the work is over without release: renewal stops, the lock expires
	testkit.WaitUntil(f.t, "the lock to expire after its context ended", 5*time.Second, func(ctx context.Context) error {
		if f.env.FastForward != nil {
			f.env.FastForward(50 * time.Millisecond)
		}
		r, err := f.env.Store.Lock(ctx, cookie, ttl)
		if err == nil {
			r()
			return nil
		}
		if !errors.Is(err, session.ErrLocked) {
			return testkit.Abort(err)
		}
		return err
	})
}

func testWaitLock(f *fixture) {
	cookie := f.create(sample("u1"))
	holder, err := f.env.Store.Lock(f.ctx, cookie, 10*time.Second)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := session.WaitLock(f.ctx, f.env.Store, cookie, time.Second, 50*time.Millisecond); !errors.Is(err, session.ErrLocked) {
		f.t.Fatalf("WaitLock on a held lock = %v; want ErrLocked", err)
	}
	got := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		r, err := session.WaitLock(f.ctx, f.env.Store, cookie, time.Second, 10*time.Second)
		if err == nil {
			r()
		}
		got <- err
	}()
	<-started
	holder()
	if err := <-got; err != nil {
		f.t.Fatalf("WaitLock after release: %v", err)
	}
}

func testState(f *fixture) {
	st := f.env.States
	key := "state-" + strings.Repeat("k", 40)
	if err := st.Spend(f.ctx, key, time.Minute); err != nil {
		f.t.Fatalf("first Spend: %v", err)
	}
	if err := st.Spend(f.ctx, key, time.Minute); !errors.Is(err, session.ErrStateUsed) {
		f.t.Fatalf("second Spend = %v; want ErrStateUsed (single use)", err)
	}
	if err := st.Spend(f.ctx, "other-state", time.Minute); err != nil {
		f.t.Fatalf("Spend of another state: %v", err)
	}
	for _, bad := range []struct {
		state string
		ttl   time.Duration
	}{{"", time.Minute}, {"x", 0}, {"x", -time.Second}} {
		if err := st.Spend(f.ctx, bad.state, bad.ttl); err == nil {
			f.t.Fatalf("Spend(%q, %v) accepted", bad.state, bad.ttl)
		}
	}
	if f.redis {
		ks := f.keys(":st:*")
		if len(ks) != 2 {
			f.t.Fatalf("state keys %q: want two markers", ks)
		}
		for _, k := range ks {
			if ttl := f.pttl(k); ttl > time.Minute || ttl <= 0 {
				f.t.Fatalf("marker %s TTL %v; want (0, 1m]", k, ttl)
			}
		}
	}
	if f.env.FastForward != nil {
		f.env.FastForward(time.Minute + time.Second)
		if err := st.Spend(f.ctx, key, time.Minute); err != nil {
			f.t.Fatalf("Spend after the marker expired: %v", err)
		}
	}
}

func testSID(f *fixture) {
	cookie := f.create(sample("u1"))
	sid := session.SID(cookie)
	if len(sid) < 32 {
		f.t.Fatalf("SID %q too short", sid)
	}
	s := f.mustLoad(cookie)
	s.AccessToken = "rotated"
	if err := f.env.Store.Save(f.ctx, cookie, s); err != nil {
		f.t.Fatal(err)
	}
	if session.SID(cookie) != sid {
		f.t.Fatal("SID not stable")
	}
	if f.redis {
		for _, k := range f.keys("*") {
			if strings.Contains(k, sid) {
				f.t.Fatalf("SID names a Redis key: %s", k)
			}
		}
	}
	if strings.Contains(sid, cookie[:43]) || strings.Contains(cookie, sid) {
		f.t.Fatal("SID reveals the cookie")
	}
}

func testDump(f *fixture) {
	s := sample("user-7f3a")
	cookie := f.create(s)
	f.advance(10 * time.Minute)
	f.mustLoad(cookie) // touched record too
	if err := f.env.States.Spend(f.ctx, "state-value-123456789", time.Minute); err != nil {
		f.t.Fatal(err)
	}
	release, err := f.env.Store.Lock(f.ctx, cookie, 10*time.Second)
	if err != nil {
		f.t.Fatal(err)
	}
	defer release()
	var dump bytes.Buffer
	for _, k := range f.keys("*") {
		dump.WriteString(k + "\n")
		switch typ := f.env.Client.Type(f.ctx, k).Val(); typ {
		case "string":
			dump.Write(f.raw(k))
		case "zset":
			for _, z := range f.env.Client.ZRangeWithScores(f.ctx, k, 0, -1).Val() {
				dump.WriteString(z.Member.(string) + "\n")
			}
		default:
			f.t.Fatalf("unexpected key type %s for %s", typ, k)
		}
		dump.WriteString("\n")
	}
	for _, secret := range []string{
		s.AccessToken, s.RefreshToken, s.IDToken, s.Email, s.Name, s.UserID, "tenant-1",
		cookie, cookie[:43], cookie[44:], "state-value-123456789",
	} {
		if bytes.Contains(dump.Bytes(), []byte(secret)) {
			f.t.Errorf("redis dump contains %q", secret)
		}
	}
}
