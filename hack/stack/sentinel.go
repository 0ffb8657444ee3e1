package stack

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// SentinelMaster is the master name of the Sentinel deployment (RedisSentinel).
const SentinelMaster = "gwmaster"

// Part names of the Sentinel deployment: PartRedis is the first master.
const (
	PartRedisReplica  = "redis-replica"
	PartRedisSentinel = "redis-sentinel"
)

// startSentinel starts the rest of a Sentinel deployment next to the master r already runs: a
// replica and one sentinel (quorum 1, master down after 1s), and waits until the sentinel
// sees the replica in sync (so a failover can succeed).
func startSentinel(ctx context.Context, r *redisInstance, path, masterAddr, dir string, out io.Writer, timeout time.Duration) error {
	replicaPort, err := testkit.PickPort()
	if err != nil {
		return err
	}
	sentinelPort, err := testkit.PickPort()
	if err != nil {
		return err
	}
	_, masterPort, err := net.SplitHostPort(masterAddr)
	if err != nil {
		return fmt.Errorf("stack: sentinel: %w", err)
	}
	rdir := filepath.Join(dir, "redis-replica")
	sdir := filepath.Join(dir, "redis-sentinel")
	for _, d := range []string{rdir, sdir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("stack: sentinel: %w", err)
		}
	}
	replica, err := startProcess(PartRedisReplica, path, append(redisArgs(replicaPort, rdir), "--replicaof", "127.0.0.1", masterPort), nil, rdir, out)
	if err != nil {
		return err
	}
	r.add(PartRedisReplica, replica, addr(replicaPort))
	if err := waitTCP(ctx, addr(replicaPort), timeout, replica); err != nil {
		return fmt.Errorf("stack: redis replica: %w", err)
	}
	// The sentinel learns replicas from the master's INFO, which it reads at once and then
	// every 10s: start it only once the replica is attached.
	if err := poll(ctx, "the replica to be online", timeout, replica, func(ctx context.Context) error {
		return replicaOnline(ctx, masterAddr, replicaPort)
	}); err != nil {
		return fmt.Errorf("stack: redis replica: %w", err)
	}
	conf := filepath.Join(sdir, "sentinel.conf") // the sentinel rewrites it
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %s 1\n"+
		"sentinel down-after-milliseconds %[3]s 1000\nsentinel failover-timeout %[3]s 10000\n",
		sentinelPort, sdir, SentinelMaster, masterPort)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return fmt.Errorf("stack: sentinel: %w", err)
	}
	sentinel, err := startProcess(PartRedisSentinel, path, []string{conf, "--sentinel"}, nil, sdir, out)
	if err != nil {
		return err
	}
	r.add(PartRedisSentinel, sentinel, addr(sentinelPort))
	r.sentinelAddr = addr(sentinelPort)
	if err := waitTCP(ctx, r.sentinelAddr, timeout, sentinel); err != nil {
		return fmt.Errorf("stack: redis sentinel: %w", err)
	}
	return poll(ctx, "the sentinel to see the replica in sync", timeout, sentinel, func(ctx context.Context) error {
		return r.replicaInSync(ctx, addr(replicaPort))
	})
}

func replicaOnline(ctx context.Context, masterAddr string, replicaPort int) error {
	c := redis.NewClient(&redis.Options{Addr: masterAddr, MaxRetries: -1, DialerRetries: 1})
	defer func() { _ = c.Close() }()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "port="+strconv.Itoa(replicaPort)+",state=online") {
		return fmt.Errorf("replica not online yet")
	}
	return nil
}

// replicaInSync: the sentinel lists addr as a healthy replica with its link up.
func (r *redisInstance) replicaInSync(ctx context.Context, replicaAddr string) error {
	c := redis.NewSentinelClient(&redis.Options{Addr: r.sentinelAddr, MaxRetries: -1, DialerRetries: 1})
	defer func() { _ = c.Close() }()
	replicas, err := c.Replicas(ctx, SentinelMaster).Result()
	if err != nil {
		return err
	}
	for _, rep := range replicas {
		if net.JoinHostPort(rep["ip"], rep["port"]) == replicaAddr && rep["flags"] == "slave" && rep["master-link-status"] == "ok" {
			return nil
		}
	}
	return fmt.Errorf("replica %s not in sync yet", replicaAddr)
}

// SentinelMasterAddr asks the sentinel which node is the master now (RedisSentinel only).
func (s *Stack) SentinelMasterAddr(ctx context.Context) (string, error) {
	if s.redis == nil || s.redis.sentinelAddr == "" {
		return "", fmt.Errorf("stack: no sentinel: %w", ErrNoPart)
	}
	c := redis.NewSentinelClient(&redis.Options{Addr: s.redis.sentinelAddr, MaxRetries: -1, DialerRetries: 1})
	defer func() { _ = c.Close() }()
	hp, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
	if err != nil {
		return "", fmt.Errorf("stack: sentinel: %w", err)
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("stack: sentinel: master address %q", hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}
