package sessiontest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// SentinelMaster is the master name the Sentinel deployment monitors.
const SentinelMaster = "gwmaster"

// Sentinel is a real Redis Sentinel deployment owned by one test: one
// master, one replica and one sentinel (quorum 1), each on a free
// 127.0.0.1 port with its own temp dir. Clients connect with
// session.Options{Addrs: []string{s.Addr()}, MasterName: SentinelMaster}.
type Sentinel struct {
	Master, Replica, Sentinel *testkit.RedisServer
	// Password is the sentinel's requirepass ("" = none); clients pass it
	// as session.Options.SentinelPassword.
	Password string
}

// StartSentinel starts the deployment and returns once the sentinel knows
// the master and sees the replica in sync (so SENTINEL FAILOVER can
// succeed). Everything is stopped when the test ends. Skipped or failed
// without redis-server like testkit.StartRedis.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	return StartSentinelAuth(t, "")
}

// StartSentinelAuth is StartSentinel with the sentinel protected by
// requirepass password (the data nodes stay open).
func StartSentinelAuth(t testing.TB, password string) *Sentinel {
	t.Helper()
	// No 5s wait for more replicas before a full sync (the replica serves
	// one after a failover).
	noDelay := []string{"--repl-diskless-sync-delay", "0"}
	master := testkit.StartRedisWith(t, testkit.RedisOptions{Extra: noDelay})
	replica := testkit.StartRedisWith(t, testkit.RedisOptions{Extra: append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port())}, noDelay...)})
	// The sentinel learns replicas from the master's INFO, which it reads at
	// once and then every 10s: start it only when the replica is there.
	testkit.WaitUntil(t, "replica online", deployTimeout, func(ctx context.Context) error {
		c := direct(master.Addr())
		defer func() { _ = c.Close() }()
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "port="+strconv.Itoa(replica.Port())+",state=online") {
			return fmt.Errorf("master replication info:\n%s", info)
		}
		return nil
	})

	port, dir := testkit.FreePort(t), t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf") // rewritten by the sentinel
	body := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %[3]s 1000
sentinel failover-timeout %[3]s 10000
`, port, dir, SentinelMaster, master.Port())
	if password != "" {
		body += "requirepass " + password + "\n"
	}
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatalf("write sentinel.conf: %v", err)
	}
	s := testkit.StartRedisWith(t, testkit.RedisOptions{Port: port, Dir: dir, Args: []string{conf, "--sentinel"}})

	d := &Sentinel{Master: master, Replica: replica, Sentinel: s, Password: password}
	testkit.WaitUntil(t, "sentinel to see the replica in sync", deployTimeout, func(ctx context.Context) error {
		return d.replicaInSync(ctx, replica.Addr())
	})
	return d
}

// client talks to the sentinel itself.
func (d *Sentinel) client() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: d.Addr(), Password: d.Password})
}

// Addr is the sentinel's host:port.
func (d *Sentinel) Addr() string { return d.Sentinel.Addr() }

// MasterAddr asks the sentinel for the current master's host:port.
func (d *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	c := d.client()
	defer func() { _ = c.Close() }()
	hp, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
	if err != nil {
		return "", err
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("get-master-addr-by-name: %q", hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// Failover forces a failover (SENTINEL FAILOVER) and returns once the
// sentinel names the former replica as master and that replica answers
// as one. The client side (go-redis following +switch-master) is the
// caller's to check.
func (d *Sentinel) Failover(t testing.TB) {
	t.Helper()
	ctx := t.Context()
	old, err := d.MasterAddr(ctx)
	if err != nil {
		t.Fatalf("master address: %v", err)
	}
	want := d.Replica.Addr()
	if old == want {
		t.Fatalf("the replica %s is already master", want)
	}
	c := d.client()
	defer func() { _ = c.Close() }()
	if err := c.Failover(ctx, SentinelMaster).Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	testkit.WaitUntil(t, "failover to the replica", deployTimeout, func(ctx context.Context) error {
		got, err := d.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("sentinel names %s as master", got)
		}
		return role(ctx, want, "master")
	})
}

// replicaInSync reports nil once the sentinel lists addr as a healthy
// replica of the master with its replication link up.
func (d *Sentinel) replicaInSync(ctx context.Context, addr string) error {
	c := d.client()
	defer func() { _ = c.Close() }()
	if _, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result(); err != nil {
		return err
	}
	replicas, err := c.Replicas(ctx, SentinelMaster).Result()
	if err != nil {
		return err
	}
	for _, r := range replicas {
		if net.JoinHostPort(r["ip"], r["port"]) == addr && r["flags"] == "slave" && r["master-link-status"] == "ok" {
			return nil
		}
	}
	return fmt.Errorf("replica %s not (yet) healthy in %v", addr, replicas)
}

// role reports nil when the server at addr answers ROLE with want.
func role(ctx context.Context, addr, want string) error {
	c := direct(addr)
	defer func() { _ = c.Close() }()
	v, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return err
	}
	if len(v) == 0 || v[0] != want {
		return fmt.Errorf("%s has role %v; want %s", addr, v, want)
	}
	return nil
}

// deployTimeout bounds each wait for a deployment's state to change (replication, a
// failover, the cluster forming): asynchronous, with no event to wait on.
const deployTimeout = 20 * time.Second
