package session_test

import (
	"encoding/base64"
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

// accessToken is an unsigned JWT-shaped access token with payload.
func accessToken(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestAccessTokenSID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, token, want string
	}{
		{name: "FusionAuth access token", token: accessToken(`{"sub":"u","sid":"rt-1"}`), want: "rt-1"},
		{name: "padded payload", token: strings.Replace(accessToken(`{"sid":"rt-1"}`), ".c2ln", "", 1) + "==.c2ln", want: "rt-1"},
		{name: "no sid", token: accessToken(`{"sub":"u"}`)},
		{name: "sid not a string", token: accessToken(`{"sid":7}`)},
		{name: "opaque", token: "2YotnFZFEjr1zCsicMWpAA"},
		{name: "payload not base64", token: "a.%%%.c"},
		{name: "payload not JSON", token: "a.bm90IGpzb24.c"},
		{name: "too large", token: accessToken(`{"sid":"rt-1","x":"` + strings.Repeat("x", 20<<10) + `"}`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := session.AccessTokenSID(tt.token); got != tt.want {
				t.Errorf("AccessTokenSID = %q, want %q", got, tt.want)
			}
		})
	}
}

// Every way a session ends records its revocation (Delete at logout,
// DeleteSession, DeleteUserSessions), on miniredis and on redis-server.
func TestRevocationsMiniredis(t *testing.T) {
	t.Parallel()
	testRevocations(t, miniClient)
}

func TestRevocationsRedis(t *testing.T) {
	t.Parallel()
	testRevocations(t, realClient(t))
}

func testRevocations(t *testing.T, client func(t *testing.T) (redis.UniversalClient, func(time.Duration))) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type env struct {
		store *session.RedisStore
		clock *testkit.Clock
	}
	// Each case has its own prefix: the cases share redis-server.
	setup := func(t *testing.T, prefix string) env {
		clock := testkit.NewClock(start)
		rdb, _ := client(t)
		s, err := session.NewRedisStore(session.Config{
			Client: rdb, Now: clock.Now, RevocationRetention: 30 * time.Minute, Prefix: prefix,
		})
		if err != nil {
			t.Fatal(err)
		}
		return env{store: s, clock: clock}
	}
	create := func(t *testing.T, e env, user, atSID string) string {
		t.Helper()
		c, err := e.store.Create(t.Context(), &session.Session{UserID: user, AccessToken: accessToken(`{"sid":"` + atSID + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	read := func(t *testing.T, e env) *session.Revocations {
		t.Helper()
		r, err := e.store.Revocations(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.store.RevocationVersion(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if v != r.Version {
			t.Errorf("RevocationVersion = %q, Revocations().Version = %q", v, r.Version)
		}
		return r
	}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	for i, tt := range []struct {
		name string
		// end ends sessions and returns what must be revoked then.
		end func(t *testing.T, e env) *session.Revocations
	}{
		{name: "logout", end: func(t *testing.T, e env) *session.Revocations {
			c := create(t, e, "alice", "rt-a1")
			create(t, e, "alice", "rt-a2")
			if err := e.store.Delete(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			return &session.Revocations{Sessions: []string{session.SID(c), "rt-a1"}, Subjects: map[string]int64{}}
		}},
		{name: "admin revokes one session, after a refresh rotated its token", end: func(t *testing.T, e env) *session.Revocations {
			c := create(t, e, "alice", "rt-old")
			s, err := e.store.Load(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			s.AccessToken = accessToken(`{"sid":"rt-new"}`)
			if err := e.store.Save(t.Context(), c, s); err != nil {
				t.Fatal(err)
			}
			if err := e.store.DeleteSession(t.Context(), "alice", session.KeyTag(c)); err != nil {
				t.Fatal(err)
			}
			return &session.Revocations{Sessions: []string{session.SID(c), "rt-new"}, Subjects: map[string]int64{}}
		}},
		{name: "every session of a user", end: func(t *testing.T, e env) *session.Revocations {
			create(t, e, "alice", "rt-a1")
			create(t, e, "bob", "rt-b1")
			e.clock.Advance(1500 * time.Millisecond)
			if _, err := e.store.DeleteUserSessions(t.Context(), "alice"); err != nil {
				t.Fatal(err)
			}
			return &session.Revocations{Subjects: map[string]int64{"alice": start.Unix() + 1}}
		}},
		{name: "a user without sessions", end: func(t *testing.T, e env) *session.Revocations {
			if err := e.store.DeleteUser(t.Context(), "carol"); err != nil {
				t.Fatal(err)
			}
			return &session.Revocations{Subjects: map[string]int64{"carol": start.Unix()}}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, "rv"+strconv.Itoa(i))
			if r := read(t, e); r.Version != "" || len(r.Sessions)+len(r.Subjects) != 0 {
				t.Fatalf("before: %+v, want nothing", r)
			}
			want := tt.end(t, e)
			got := read(t, e)
			if got.Version == "" {
				t.Error("no version after a revocation")
			}
			want.Version = got.Version
			if diff := cmp.Diff(want, got, sorted, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("revocations (-want +got):\n%s", diff)
			}
			// Kept for the retention (30m) and a minute of skew, then gone.
			e.clock.Advance(31*time.Minute - time.Second)
			if r := read(t, e); len(r.Sessions)+len(r.Subjects) == 0 {
				t.Error("revocations gone before the retention ended")
			}
			e.clock.Advance(2 * time.Second)
			if r := read(t, e); len(r.Sessions)+len(r.Subjects) != 0 {
				t.Errorf("after the retention: %+v, want nothing", r)
			}
		})
	}
}

// TestRevocationVersionChanges: every recorded revocation changes the
// version, including a repeat of the same one.
func TestRevocationVersionChanges(t *testing.T) {
	t.Parallel()
	rdb, _ := miniClient(t)
	s := newStore(t, rdb, sessiontest.Options{})
	seen := map[string]bool{}
	for range 3 {
		if err := s.DeleteUser(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
		v, err := s.RevocationVersion(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if seen[v] {
			t.Fatalf("version %q repeated", v)
		}
		seen[v] = true
	}
}

// FuzzAccessTokenSID: the unverified read of an access token's sid never
// panics, and finds one only in a three-part token of bounded size.
func FuzzAccessTokenSID(f *testing.F) {
	f.Add(accessToken(`{"sub":"u","sid":"rt-1"}`))
	f.Add(accessToken(`{"sid":null}`))
	f.Add("a.e30.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		sid := session.AccessTokenSID(token)
		if sid != "" && (strings.Count(token, ".") != 2 || len(token) > 16<<10) {
			t.Fatalf("sid %q from a token that is not a bounded three-part JWT", sid)
		}
	})
}

// TestRevocationsCutoff: the cutoff key is published in unix seconds
// (rounded down), and one that is not unix milliseconds fails the read
// (the feed answers 503; its followers fail safe) rather than dropping it.
func TestRevocationsCutoff(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, value string
		want        int64
		wantErr     bool
	}{
		{name: "none", want: 0},
		{name: "set", value: "1700000000999", want: 1_700_000_000},
		{name: "not a number", value: "soon", wantErr: true},
		{name: "negative", value: "-5", wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb, _ := miniClient(t)
			s := newStore(t, rdb, sessiontest.Options{})
			if tt.value != "" {
				if err := rdb.Set(t.Context(), session.RevocationCutoffKey(""), tt.value, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			rv, err := s.Revocations(t.Context())
			if tt.wantErr {
				if !errors.Is(err, session.ErrUnavailable) {
					t.Fatalf("Revocations: %v, want ErrUnavailable", err)
				}
				return
			}
			if err != nil || rv.Cutoff != tt.want {
				t.Fatalf("Revocations: cutoff %v, %v; want %d", rv, err, tt.want)
			}
		})
	}
}
