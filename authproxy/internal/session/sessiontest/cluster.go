package sessiontest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

const clusterSlots = 16384

// Cluster is a real Redis Cluster owned by one test: masters only, each
// on a free 127.0.0.1 port (and a free cluster-bus port) with its own temp
// dir, the slots split evenly between them. Clients connect with
// session.Options{Addrs: c.Addrs()}.
type Cluster struct {
	Nodes []*testkit.RedisServer
}

// StartCluster starts n masters, joins them (CLUSTER MEET), assigns the
// slots (CLUSTER ADDSLOTSRANGE) and returns once every node reports
// cluster_state:ok with all n nodes known. It needs no redis-cli. Stopped
// when the test ends; skipped or failed without redis-server like
// testkit.StartRedis. A fresh master holds its state at fail for its first two
// seconds (Redis's writable delay), so this takes about that long.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 || n > clusterSlots {
		t.Fatalf("cluster of %d nodes", n)
	}
	c := &Cluster{Nodes: make([]*testkit.RedisServer, n)}
	busPorts := make([]int, n)
	for i := range n {
		// The bus port is chosen too: port+10000 may be taken or beyond 65535.
		busPorts[i] = testkit.FreePort(t)
		c.Nodes[i] = testkit.StartRedisWith(t, testkit.RedisOptions{Extra: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", // inside the node's --dir
			"--cluster-node-timeout", "2000",
			"--cluster-port", strconv.Itoa(busPorts[i]),
		}})
	}
	ctx := t.Context()
	for i, node := range c.Nodes {
		first, last := i*clusterSlots/n, (i+1)*clusterSlots/n-1
		if err := do(ctx, node.Addr(), "CLUSTER", "SET-CONFIG-EPOCH", i+1); err != nil {
			t.Fatalf("node %d: set-config-epoch: %v", i, err)
		}
		if err := do(ctx, node.Addr(), "CLUSTER", "ADDSLOTSRANGE", first, last); err != nil {
			t.Fatalf("node %d: addslotsrange %d %d: %v", i, first, last, err)
		}
		if i > 0 {
			if err := do(ctx, c.Nodes[0].Addr(), "CLUSTER", "MEET", "127.0.0.1", node.Port(), busPorts[i]); err != nil {
				t.Fatalf("meet node %d: %v", i, err)
			}
		}
	}
	testkit.WaitUntil(t, "cluster_state:ok on every node", deployTimeout, func(ctx context.Context) error {
		for i, node := range c.Nodes {
			info, err := clusterInfo(ctx, node.Addr())
			if err != nil {
				return fmt.Errorf("node %d: %w", i, err)
			}
			if !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r\n") {
				return fmt.Errorf("node %d:\n%s", i, info)
			}
		}
		return nil
	})
	return c
}

// Addrs are the nodes' host:port, the seed list for a cluster client.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// direct is a plain single-node client of addr that does not retry; the
// caller closes it.
func direct(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
}

// do sends one command to addr.
func do(ctx context.Context, addr string, args ...any) error {
	c := direct(addr)
	defer func() { _ = c.Close() }()
	return c.Do(ctx, args...).Err()
}

func clusterInfo(ctx context.Context, addr string) (string, error) {
	c := direct(addr)
	defer func() { _ = c.Close() }()
	return c.ClusterInfo(ctx).Result()
}

// ScanAll returns every key matching pattern. A cluster client's SCAN
// reaches one node, so on Cluster every master is scanned.
func ScanAll(ctx context.Context, c redis.UniversalClient, pattern string) ([]string, error) {
	var (
		mu  sync.Mutex
		out []string
	)
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 100).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return out, scan(ctx, c)
	}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	return out, err
}
