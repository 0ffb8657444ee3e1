package session_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/session/sessiontest"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// The user index as an operator reads and prunes it (UserSessions,
// DeleteSession, DeleteUserSessions), on miniredis and on redis-server.
func TestUserIndexMiniredis(t *testing.T) {
	t.Parallel()
	testUserIndex(t, miniClient)
}

func TestUserIndexRedis(t *testing.T) {
	t.Parallel()
	testUserIndex(t, realClient(t))
}

// indexEnv is one case's store: alice has sessions a1 (created at start),
// gone (five minutes later) and a2 (ten minutes later), bob has b1. gone's
// record was deleted behind the index's back, as Redis does when a session
// expires idle.
type indexEnv struct {
	store        *session.RedisStore
	rdb          redis.UniversalClient
	start        time.Time
	a1, a2, gone string // cookies
	b1           string
}

func (e *indexEnv) load(t *testing.T, cookie string) error {
	t.Helper()
	_, err := e.store.Load(t.Context(), cookie)
	return err
}

func testUserIndex(t *testing.T, client func(t *testing.T) (redis.UniversalClient, func(time.Duration))) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	setup := func(t *testing.T, prefix string) *indexEnv {
		clock := testkit.NewClock(start)
		rdb, _ := client(t)
		e := &indexEnv{rdb: rdb, start: start, store: newStore(t, rdb, sessiontest.Options{
			Lifetime: 12 * time.Hour, IdleTimeout: time.Hour, Now: clock.Now, Prefix: prefix,
		})}
		create := func(user string) string {
			c, err := e.store.Create(t.Context(), &session.Session{UserID: user})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		e.a1, e.b1 = create("alice"), create("bob")
		clock.Advance(5 * time.Minute)
		e.gone = create("alice")
		clock.Advance(5 * time.Minute)
		e.a2 = create("alice")
		if err := rdb.Del(t.Context(), prefix+":{"+session.KeyTag(e.gone)+"}:s").Err(); err != nil {
			t.Fatal(err)
		}
		return e
	}
	// Idle expiries come from Redis's TTLs, which pass in real time on
	// redis-server: now + 1h, give or take the test's own duration.
	approx := cmpopts.EquateApproxTime(time.Second)

	tests := []struct {
		name string
		run  func(t *testing.T, e *indexEnv)
	}{
		{name: "list: by absolute expiry, ids are the records' tags, a gone record is not live", run: func(t *testing.T, e *indexEnv) {
			got, err := e.store.UserSessions(t.Context(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			idle := e.start.Add(10*time.Minute + time.Hour) // now + the records' TTL
			want := []session.SessionInfo{
				{ID: session.KeyTag(e.a1), Expires: e.start.Add(12 * time.Hour), IdleExpires: idle},
				{ID: session.KeyTag(e.gone), Expires: e.start.Add(12*time.Hour + 5*time.Minute)},
				{ID: session.KeyTag(e.a2), Expires: e.start.Add(12*time.Hour + 10*time.Minute), IdleExpires: idle},
			}
			if d := cmp.Diff(want, got, approx); d != "" {
				t.Errorf("UserSessions (-want +got):\n%s", d)
			}
			for _, in := range got {
				if in.Live() != (in.ID != session.KeyTag(e.gone)) {
					t.Errorf("%s: Live() = %v", in.ID, in.Live())
				}
			}
		}},
		{name: "list: unknown user has none", run: func(t *testing.T, e *indexEnv) {
			got, err := e.store.UserSessions(t.Context(), "nobody")
			if err != nil || len(got) != 0 {
				t.Fatalf("UserSessions = %v, %v; want none", got, err)
			}
		}},
		{name: "delete one: its record, lock and index entry go, nothing else", run: func(t *testing.T, e *indexEnv) {
			lock := func() error {
				release, err := e.store.Lock(t.Context(), e.a1, time.Minute)
				if err == nil {
					t.Cleanup(release)
				}
				return err
			}
			if err := lock(); err != nil {
				t.Fatal(err)
			}
			if err := e.store.DeleteSession(t.Context(), "alice", session.KeyTag(e.a1)); err != nil {
				t.Fatal(err)
			}
			if err := lock(); err != nil {
				t.Errorf("Lock(a1) after delete = %v; want the lock gone with the session", err)
			}
			if err := e.load(t, e.a1); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("Load(a1) after delete = %v; want ErrNotFound", err)
			}
			for _, c := range []string{e.a2, e.b1} {
				if err := e.load(t, c); err != nil {
					t.Errorf("another session: Load = %v", err)
				}
			}
			wantIDs(t, e, "alice", session.KeyTag(e.gone), session.KeyTag(e.a2))
		}},
		{name: "delete one: another user's session is not found and stays", run: func(t *testing.T, e *indexEnv) {
			err := e.store.DeleteSession(t.Context(), "alice", session.KeyTag(e.b1))
			if !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("DeleteSession(alice, bob's) = %v; want ErrNotFound", err)
			}
			if err := e.load(t, e.b1); err != nil {
				t.Errorf("bob's session: Load = %v", err)
			}
			wantIDs(t, e, "bob", session.KeyTag(e.b1))
		}},
		{name: "delete one: unknown id is not found", run: func(t *testing.T, e *indexEnv) {
			for _, id := range []string{"nope", "", strings.Repeat("A", 43)} {
				if err := e.store.DeleteSession(t.Context(), "alice", id); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("DeleteSession(%q) = %v; want ErrNotFound", id, err)
				}
			}
			wantIDs(t, e, "alice", session.KeyTag(e.a1), session.KeyTag(e.gone), session.KeyTag(e.a2))
		}},
		{name: "delete one: a gone record is not found, its index entry goes", run: func(t *testing.T, e *indexEnv) {
			if err := e.store.DeleteSession(t.Context(), "alice", session.KeyTag(e.gone)); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("DeleteSession(gone) = %v; want ErrNotFound", err)
			}
			wantIDs(t, e, "alice", session.KeyTag(e.a1), session.KeyTag(e.a2))
		}},
		{name: "delete all: the live ones are reported and leave the index, bob stays", run: func(t *testing.T, e *indexEnv) {
			got, err := e.store.DeleteUserSessions(t.Context(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{session.KeyTag(e.a1), session.KeyTag(e.a2)}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("DeleteUserSessions (-want +got):\n%s", d)
			}
			for _, c := range []string{e.a1, e.a2} {
				if err := e.load(t, c); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("Load after delete all = %v; want ErrNotFound", err)
				}
			}
			// The member without a record stays: it could be a Create
			// in flight (index written, record not yet), which must
			// stay reachable by the next revocation.
			wantIDs(t, e, "alice", session.KeyTag(e.gone))
			if err := e.load(t, e.b1); err != nil {
				t.Errorf("bob's session: Load = %v", err)
			}
		}},
		{name: "delete all: unknown user, nothing", run: func(t *testing.T, e *indexEnv) {
			got, err := e.store.DeleteUserSessions(t.Context(), "nobody")
			if err != nil || len(got) != 0 {
				t.Fatalf("DeleteUserSessions = %v, %v; want none", got, err)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, setup(t, "idx"+string(rune('a'+i))))
		})
	}
}

// wantIDs checks the ids UserSessions lists for user, in any order.
func wantIDs(t *testing.T, e *indexEnv, user string, want ...string) {
	t.Helper()
	infos, err := e.store.UserSessions(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(infos))
	for i, in := range infos {
		got[i] = in.ID
	}
	if d := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("%s's index (-want +got):\n%s", user, d)
	}
}

// With Redis down every operation says so (ErrUnavailable).
func TestUserIndexRedisDown(t *testing.T) {
	t.Parallel()
	store := newStore(t, newClient(t, "127.0.0.1:"+strconv.Itoa(testkit.FreePort(t))), sessiontest.Options{})
	ctx := t.Context()
	ops := map[string]func(context.Context) error{
		"UserSessions":       func(ctx context.Context) error { _, err := store.UserSessions(ctx, "alice"); return err },
		"DeleteSession":      func(ctx context.Context) error { return store.DeleteSession(ctx, "alice", "id") },
		"DeleteUserSessions": func(ctx context.Context) error { _, err := store.DeleteUserSessions(ctx, "alice"); return err },
	}
	for name, op := range ops {
		if err := op(ctx); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("%s = %v; want ErrUnavailable", name, err)
		}
	}
}
