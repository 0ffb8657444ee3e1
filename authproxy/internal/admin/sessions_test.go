package admin

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// start is the fake clock's time when the fixture's first session is made.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// result is what one run of the command did.
type result struct {
	Code           int
	Stdout, Stderr string
}

// run runs `authproxy sessions args...` with the environment env and the
// clock now.
func run(t *testing.T, env map[string]string, now func() time.Time, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Sessions(t.Context(), args, Env{
		Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: &stderr, Now: now,
	})
	return result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}
}

// fixture is a redis-server holding, in the server's key layout, alice's
// sessions a1 (made at start), gone (five minutes later; its record since
// deleted, as Redis does when a session expires idle) and a2 (ten minutes
// later), and bob's b1. The clock then shows start + 10m.
type fixture struct {
	env                      map[string]string // the command's environment: the Redis address
	rdb                      redis.UniversalClient
	store                    *session.RedisStore
	clock                    *testkit.Clock
	a1, gone, a2, b1         string // session ids, as list prints them
	a1Cookie, a2Cookie, bobC string // cookies
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := testkit.StartRedis(t)
	f := &fixture{env: map[string]string{"AUTHPROXY_REDIS_ADDRS": srv.Addr()}, clock: testkit.NewClock(start)}
	f.rdb = session.NewRedisClient(session.Options{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { _ = f.rdb.Close() })
	var err error
	// The server's store: default prefix, lifetime 12h, idle timeout 1h.
	if f.store, err = session.NewRedisStore(session.Config{Client: f.rdb, Now: f.clock.Now}); err != nil {
		t.Fatal(err)
	}
	create := func(user string) string {
		c, err := f.store.Create(t.Context(), &session.Session{UserID: user, AccessToken: "secret-" + user})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f.a1Cookie, f.bobC = create("alice"), create("bob")
	f.clock.Advance(5 * time.Minute)
	create("alice")
	f.clock.Advance(5 * time.Minute)
	f.a2Cookie = create("alice")
	ids := f.ids(t, "alice")
	f.a1, f.gone, f.a2 = ids[0], ids[1], ids[2]
	f.b1 = f.ids(t, "bob")[0]
	// Behind the index's back, as an idle expiry does: the record (key
	// layout in package session's doc) goes, the index entry stays.
	if err := f.rdb.Del(t.Context(), "gw:{"+f.gone+"}:s").Err(); err != nil {
		t.Fatal(err)
	}
	return f
}

// ids are user's indexed session ids by absolute expiry.
func (f *fixture) ids(t *testing.T, user string) []string {
	t.Helper()
	infos, err := f.store.UserSessions(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(infos))
	for i, in := range infos {
		ids[i] = in.ID
	}
	return ids
}

// alive reports whether the session behind cookie still loads.
func (f *fixture) alive(t *testing.T, cookie string) bool {
	t.Helper()
	_, err := f.store.Load(t.Context(), cookie)
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// row is one line of list's table: id (43 characters) and two times.
func row(id, expires, idle string) string { return fmt.Sprintf("%-45s%-22s%s\n", id, expires, idle) }

func TestSessions(t *testing.T) {
	t.Parallel()
	header := row("SESSION", "EXPIRES", "IDLE EXPIRES")
	// Idle expiry: now (start + 10m) + the records' TTL (1h; Redis's own
	// clock has barely moved).
	const idle = "2026-03-01T13:10:00Z"
	tests := []struct {
		name  string
		args  func(f *fixture) []string
		want  func(f *fixture) result
		check func(t *testing.T, f *fixture) // Redis afterwards
	}{
		{
			name: "list: live sessions by absolute expiry; a gone record is counted, not listed",
			args: func(*fixture) []string { return []string{"list", "--user", "alice"} },
			want: func(f *fixture) result {
				return result{Stdout: header +
					row(f.a1, "2026-03-02T00:00:00Z", idle) +
					row(f.a2, "2026-03-02T00:10:00Z", idle) +
					"(1 more in the user's index without a record: expired idle, not listed)\n"}
			},
			check: func(t *testing.T, f *fixture) {
				if d := cmp.Diff([]string{f.a1, f.gone, f.a2}, f.ids(t, "alice")); d != "" {
					t.Errorf("list changed the index (-want +got):\n%s", d)
				}
			},
		},
		{
			name: "list: json",
			args: func(*fixture) []string { return []string{"list", "--user=alice", "--output=json"} },
			want: func(f *fixture) result {
				return result{Stdout: `{
  "user_id": "alice",
  "sessions": [
    {
      "id": "` + f.a1 + `",
      "expires": "2026-03-02T00:00:00Z",
      "idle_expires": "` + idle + `"
    },
    {
      "id": "` + f.a2 + `",
      "expires": "2026-03-02T00:10:00Z",
      "idle_expires": "` + idle + `"
    }
  ],
  "stale": 1
}
`}
			},
		},
		{
			name: "list: unknown user",
			args: func(*fixture) []string { return []string{"list", "--user", "nobody"} },
			want: func(*fixture) result { return result{Stdout: "no sessions\n"} },
		},
		{
			name: "list: unknown user, json",
			args: func(*fixture) []string { return []string{"list", "--user", "nobody", "--output", "json"} },
			want: func(*fixture) result {
				return result{Stdout: "{\n  \"user_id\": \"nobody\",\n  \"sessions\": [],\n  \"stale\": 0\n}\n"}
			},
		},
		{
			name: "revoke one",
			args: func(f *fixture) []string { return []string{"revoke", "--user", "alice", "--session", f.a1} },
			want: func(f *fixture) result { return result{Stdout: "revoked session " + f.a1 + " of user alice\n"} },
			check: func(t *testing.T, f *fixture) {
				if f.alive(t, f.a1Cookie) || !f.alive(t, f.a2Cookie) || !f.alive(t, f.bobC) {
					t.Errorf("alive a1 %v a2 %v b1 %v; want only a1 gone", f.alive(t, f.a1Cookie), f.alive(t, f.a2Cookie), f.alive(t, f.bobC))
				}
				if d := cmp.Diff([]string{f.gone, f.a2}, f.ids(t, "alice")); d != "" {
					t.Errorf("alice's index (-want +got):\n%s", d)
				}
			},
		},
		{
			name: "revoke all: the live ones are printed and leave the index, other users untouched",
			args: func(*fixture) []string { return []string{"revoke", "--user", "alice", "--all"} },
			want: func(f *fixture) result {
				return result{Stdout: "revoked session " + f.a1 + " of user alice\nrevoked session " + f.a2 + " of user alice\n"}
			},
			check: func(t *testing.T, f *fixture) {
				if f.alive(t, f.a1Cookie) || f.alive(t, f.a2Cookie) || !f.alive(t, f.bobC) {
					t.Errorf("alive a1 %v a2 %v b1 %v; want only b1", f.alive(t, f.a1Cookie), f.alive(t, f.a2Cookie), f.alive(t, f.bobC))
				}
				// Only the entry without a record stays (it could be a login
				// in flight; see session.DeleteUserSessions).
				if ids := f.ids(t, "alice"); len(ids) != 1 || ids[0] != f.gone {
					t.Errorf("alice's index holds %v; want only the entry without a record %q", ids, f.gone)
				}
			},
		},
		{
			name: "revoke all: json",
			args: func(*fixture) []string { return []string{"revoke", "--user", "bob", "--all", "--output", "json"} },
			want: func(f *fixture) result {
				return result{Stdout: "{\n  \"user_id\": \"bob\",\n  \"revoked\": [\n    \"" + f.b1 + "\"\n  ]\n}\n"}
			},
		},
		{
			name: "revoke all: unknown user",
			args: func(*fixture) []string { return []string{"revoke", "--user", "nobody", "--all"} },
			want: func(*fixture) result { return result{Stdout: "no sessions\n"} },
		},
		{
			name: "revoke: unknown session",
			args: func(*fixture) []string { return []string{"revoke", "--user", "alice", "--session", "nope"} },
			want: func(*fixture) result {
				return result{Code: 1, Stderr: `authproxy sessions revoke: user "alice" has no session "nope" (list shows their sessions)` + "\n"}
			},
			check: func(t *testing.T, f *fixture) {
				if d := cmp.Diff([]string{f.a1, f.gone, f.a2}, f.ids(t, "alice")); d != "" {
					t.Errorf("alice's index (-want +got):\n%s", d)
				}
			},
		},
		{
			name: "revoke: another user's session is unknown and stays",
			args: func(f *fixture) []string { return []string{"revoke", "--user", "alice", "--session", f.b1} },
			want: func(f *fixture) result {
				return result{Code: 1, Stderr: `authproxy sessions revoke: user "alice" has no session "` + f.b1 + `" (list shows their sessions)` + "\n"}
			},
			check: func(t *testing.T, f *fixture) {
				if !f.alive(t, f.bobC) {
					t.Error("bob's session was revoked by alice's command")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			got := run(t, f.env, f.clock.Now, tt.args(f)...)
			if d := cmp.Diff(tt.want(f), got); d != "" {
				t.Errorf("authproxy sessions %s (-want +got):\n%s", strings.Join(tt.args(f), " "), d)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

// TestSessionsRedisDown: no Redis at the configured address is a clear
// error and exit 1.
func TestSessionsRedisDown(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	env := map[string]string{"AUTHPROXY_REDIS_ADDRS": addr}
	for _, args := range [][]string{
		{"list", "--user", "alice"},
		{"revoke", "--user", "alice", "--session", "x"},
		{"revoke", "--user", "alice", "--all"},
	} {
		got := run(t, env, nil, args...)
		prefix := "authproxy sessions " + args[0] + ": cannot reach Redis at " + addr + ": session: "
		if got.Code != 1 || got.Stdout != "" || !strings.HasPrefix(got.Stderr, prefix) || !strings.Contains(got.Stderr, "session store unavailable: dial tcp "+addr) {
			t.Errorf("%v: got %+v; want exit 1 and stderr %q... naming the failed dial", args, got, prefix)
		}
	}
}

// TestSessionsUsage: bad usage prints the problem and the synopsis and
// exits 2, before any Redis is contacted (the address here is unused);
// -h exits 0.
func TestSessionsUsage(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTHPROXY_REDIS_ADDRS": "127.0.0.1:1"}
	usage := func(program, problem string) result {
		return result{Code: 2, Stderr: program + ": " + problem + "\n" + synopsis + "\nRun '" + program + " -h' for every flag.\n"}
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want result
		// unknownFlag: the flag package's own message and the flag list,
		// instead of want.
		unknownFlag string
	}{
		{name: "no command", env: env, want: usage("authproxy sessions", "give a command: list or revoke")},
		{name: "unknown command", env: env, args: []string{"show", "--user=a"}, want: usage("authproxy sessions", `unknown command "show": want list or revoke`)},
		{name: "list without user", env: env, args: []string{"list"}, want: usage("authproxy sessions list", "--user is required")},
		{name: "revoke without user", env: env, args: []string{"revoke", "--all"}, want: usage("authproxy sessions revoke", "--user is required")},
		{name: "revoke what", env: env, args: []string{"revoke", "--user=a"}, want: usage("authproxy sessions revoke", "give exactly one of --session ID and --all")},
		{name: "revoke both", env: env, args: []string{"revoke", "--user=a", "--all", "--session=x"}, want: usage("authproxy sessions revoke", "give exactly one of --session ID and --all")},
		{name: "list has no --all", env: env, args: []string{"list", "--user=a", "--all"}, unknownFlag: "-all"},
		{name: "bad output", env: env, args: []string{"list", "--user=a", "--output=xml"}, want: usage("authproxy sessions list", `--output must be table or json, not "xml"`)},
		{
			name: "no Redis address", args: []string{"list", "--user=a"},
			want: result{Code: 2, Stderr: "authproxy sessions list: invalid configuration:\n  redis-addrs: required (host:port, comma separated)\n"},
		},
		{name: "help", args: []string{"--help"}, want: result{Stderr: synopsis + "\n" + description + "\n"}},
		{
			name: "check-config: the Redis settings only, no --user needed", env: env, args: []string{"revoke", "--check-config", "--redis-db=2"},
			want: result{Stdout: "config ok\nredis-addrs: 127.0.0.1:1  # env AUTHPROXY_REDIS_ADDRS\nredis-master-name:\nredis-username:\nredis-password:\n" +
				"redis-password-file:\nredis-db: 2  # flag --redis-db\nredis-sentinel-username:\nredis-sentinel-password:\nredis-sentinel-password-file:\n" +
				"redis-tls: false  # default\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := run(t, tt.env, nil, tt.args...)
			if tt.unknownFlag != "" {
				if got.Code != 2 || got.Stdout != "" || !strings.Contains(got.Stderr, "flag provided but not defined: "+tt.unknownFlag) || !strings.Contains(got.Stderr, "--redis-addrs") {
					t.Errorf("got %+v; want exit 2, the unknown flag named and the flags listed", got)
				}
				return
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestSessionsVerbHelp: a verb's -h lists its own flags and the Redis
// options, none of the server's others.
func TestSessionsVerbHelp(t *testing.T) {
	t.Parallel()
	got := run(t, nil, nil, "revoke", "-h")
	if got.Code != 0 || got.Stdout != "" || !strings.HasPrefix(got.Stderr, synopsis+"\n") {
		t.Fatalf("got %+v; want exit 0 and the synopsis first", got)
	}
	for _, want := range []string{"--user value", "--session value", "--all", "--output value", "--redis-addrs value  (env AUTHPROXY_REDIS_ADDRS", "--redis-password-file", "--config value"} {
		if !strings.Contains(got.Stderr, want) {
			t.Errorf("-h lacks %q", want)
		}
	}
	for _, absent := range []string{"--public-url", "--client-id", "--cookie-secret"} {
		if strings.Contains(got.Stderr, absent) {
			t.Errorf("-h lists the server's %s", absent)
		}
	}
}

// TestRevokeReachesRunningReplicas: a running replica (a Cached subscribed
// to the channel, its cache TTL an hour) drops what the command revokes at
// once: its next Load misses.
func TestRevokeReachesRunningReplicas(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	replica, err := session.NewCached(session.CacheConfig{Store: f.store, Client: f.rdb, TTL: time.Hour, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = replica.Close() })
	testkit.WaitFor(t, "the replica's subscription", replica.Ready)
	ctx := t.Context()
	for _, c := range []string{f.a1Cookie, f.a2Cookie, f.bobC} {
		if _, err := replica.Load(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// Proof that the replica serves from its cache: a2's record deleted
	// without an invalidation still loads there.
	if err := f.store.DeleteSession(ctx, "alice", f.a2); err != nil {
		t.Fatal(err)
	}
	if _, err := replica.Load(ctx, f.a2Cookie); err != nil {
		t.Fatalf("a2 not served from the replica's cache: %v", err)
	}
	gone := func(cookie string) func() bool {
		return func() bool { _, err := replica.Load(ctx, cookie); return errors.Is(err, session.ErrNotFound) }
	}

	if got := run(t, f.env, f.clock.Now, "revoke", "--user", "alice", "--session", f.a1); got.Code != 0 {
		t.Fatalf("revoke --session: %+v", got)
	}
	testkit.WaitFor(t, "the replica to drop the revoked session", gone(f.a1Cookie))

	if got := run(t, f.env, f.clock.Now, "revoke", "--user", "bob", "--all"); got.Code != 0 {
		t.Fatalf("revoke --all: %+v", got)
	}
	testkit.WaitFor(t, "the replica to drop the user's sessions", gone(f.bobC))

	// Each invalidation named only what was revoked.
	if _, err := replica.Load(ctx, f.a2Cookie); err != nil {
		t.Errorf("a2, not revoked by the command, left the replica's cache: %v", err)
	}
}
