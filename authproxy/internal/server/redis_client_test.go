package server

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
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
