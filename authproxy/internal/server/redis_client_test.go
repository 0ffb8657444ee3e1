package server

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/session/sessiontest"
)

// TestRedisDownFailsFast: through the client main builds, a session-rule
// decision answers 503 promptly once Redis is stopped; it is not held up
// by a retry-and-redial ladder (the forwarding client gives up after a
// bound far above the fail-fast path, and no answer is not a 503).
func TestRedisDownFailsFast(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	cfg := &config.Config{RedisAddrs: []string{rs.addr()}}
	rdb := NewRedisClient(cfg)
	t.Cleanup(func() { _ = rdb.Close() })
	_, ps := newEnv(t, envOpts{redis: rdb, cfg: func(c *config.Config) { c.SessionCacheTTL = 0 }})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	if resp, body := (fwd{uri: "/admin/x", cookie: cookie}).send(t, p, dialectForwarded); resp.StatusCode != http.StatusOK {
		t.Fatalf("before outage: %d %s", resp.StatusCode, body)
	}
	rs.stop()
	// go-redis's defaults (3 retries of 5 dial attempts each, with
	// backoff) take about 1.7s to give up on a refused connection here;
	// the fail-fast client answers in milliseconds. The bound only decides
	// whether an answer arrives at all.
	client := &http.Client{Timeout: time.Second}
	for _, dialect := range []string{dialectForwarded, dialectNginx, dialectEnvoy} {
		resp, err := client.Do(fwd{uri: "/admin/x", cookie: cookie, accept: jsonAccept}.request(t, p, dialect))
		if err != nil {
			t.Fatalf("%s: no answer while Redis is down: %v", dialect, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: %d; want 503", dialect, resp.StatusCode)
		}
	}
}

// TestNewRedisClientOptions: main's client is the session package's
// fail-fast client (one retry, one dial attempt, context deadlines
// honoured) with an explicit pool, and carries the Sentinel credentials.
func TestNewRedisClientOptions(t *testing.T) {
	t.Parallel()
	c := NewRedisClient(&config.Config{RedisAddrs: []string{"127.0.0.1:1"}, RedisDB: 3, RedisUsername: "u", RedisPassword: "p"})
	t.Cleanup(func() { _ = c.Close() })
	o := c.(*redis.Client).Options()
	if o.MaxRetries != 1 || o.DialerRetries != 1 || !o.ContextTimeoutEnabled {
		t.Errorf("retries %d, dial attempts %d, context timeouts %v; want 1, 1, true", o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled)
	}
	if want := 10 * runtime.GOMAXPROCS(0); o.PoolSize != want {
		t.Errorf("pool size %d; want %d", o.PoolSize, want)
	}
	if o.DB != 3 || o.Username != "u" || o.Password != "p" {
		t.Errorf("db/user/password not passed: %d %q", o.DB, o.Username)
	}
}

// TestRedisOptions: every Redis setting of the configuration reaches the
// client, the Sentinel credentials included.
func TestRedisOptions(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{
		RedisAddrs: []string{"s1:26379", "s2:26379"}, RedisMasterName: "mymaster",
		RedisUsername: "u", RedisPassword: "p", RedisDB: 2, RedisTLS: true,
		RedisSentinelUsername: "su", RedisSentinelPassword: "sp",
	}
	o := redisOptions(cfg)
	if o.MasterName != "mymaster" || len(o.Addrs) != 2 || o.Username != "u" || o.Password != "p" || o.DB != 2 ||
		o.SentinelUsername != "su" || o.SentinelPassword != "sp" || o.TLS == nil || o.PoolSize != 10*runtime.GOMAXPROCS(0) {
		t.Errorf("options not all passed: master %q addrs %v db %d tls %v pool %d sentinel user %q", o.MasterName, o.Addrs, o.DB, o.TLS != nil, o.PoolSize, o.SentinelUsername)
	}
}

// TestStoreKnownDownCostsNothing (issue 11): while Redis is paused
// (SIGSTOP: connections open, nothing answers), every request with a
// session cookie used to wait for the 1s Redis read timeout, public rules
// included. Once the breaker has seen Redis fail, a public rule with a
// cookie is served anonymously and a session rule gets its 503 without
// waiting: the client's 500ms bound, below Redis's timeout, only decides
// whether an answer arrives. When Redis resumes, sessions work again at
// once (within the probe interval).
func TestStoreKnownDownCostsNothing(t *testing.T) {
	t.Parallel()
	rs := sessiontest.StartRedis(t)
	rdb := NewRedisClient(&config.Config{RedisAddrs: []string{rs.Addr()}})
	t.Cleanup(func() { _ = rdb.Close() })
	_, ps := newEnv(t, envOpts{redis: rdb, cfg: func(c *config.Config) { c.SessionCacheTTL = 0 }})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	rs.Pause()
	t.Cleanup(rs.Resume)
	// The first requests pay the timeout and open the breaker.
	slow := &http.Client{Timeout: 10 * time.Second}
	for range 3 {
		resp, err := slow.Do(fwd{uri: "/admin/x", cookie: cookie, accept: jsonAccept}.request(t, p, dialectForwarded))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	fast := &http.Client{Timeout: 500 * time.Millisecond}
	for i := range 10 {
		for _, tc := range []struct {
			uri  string
			want int
		}{{"/products/1", http.StatusOK}, {"/admin/x", http.StatusServiceUnavailable}} {
			resp, err := fast.Do(fwd{uri: tc.uri, cookie: cookie, accept: jsonAccept}.request(t, p, dialectForwarded))
			if err != nil {
				t.Fatalf("request %d %s while Redis is known down: no prompt answer: %v", i, tc.uri, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("request %d %s: %d; want %d", i, tc.uri, resp.StatusCode, tc.want)
			}
		}
	}
	rs.Resume()
	waitFor(t, "sessions after Redis resumed", func() bool {
		resp, err := fast.Do(fwd{uri: "/admin/x", cookie: cookie}.request(t, p, dialectForwarded))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
