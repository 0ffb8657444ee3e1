package stack

import (
	"errors"
	"fmt"
	"io"
	"os/exec"

	"github.com/alicebob/miniredis/v2"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// RedisMode chooses the Redis the stack runs.
type RedisMode string

const (
	// RedisAuto runs redis-server when it is on PATH, otherwise the embedded miniredis.
	RedisAuto RedisMode = ""
	// RedisServer requires redis-server on PATH.
	RedisServer RedisMode = "server"
	// RedisEmbedded runs miniredis in this process.
	RedisEmbedded RedisMode = "embedded"
	// RedisSentinel runs a Sentinel deployment with redis-server: a master (on the Redis port),
	// a replica and one sentinel; authproxy connects through the sentinel (Options.Intercept
	// is not applied to its Redis link: the sentinel names the nodes' own addresses).
	RedisSentinel RedisMode = "sentinel"
)

// redisInstance is a running Redis, real or embedded, with the other nodes of a Sentinel
// deployment.
type redisInstance struct {
	kind string // "redis-server", "redis-sentinel" or "miniredis"
	proc *process
	path string // redis-server
	mini *miniredis.Miniredis
	// others are the replica and the sentinel (RedisSentinel), by part name.
	others       map[string]*process
	addrs        map[string]string // part name -> host:port, the master's included
	sentinelAddr string
}

func (r *redisInstance) add(name string, p *process, address string) {
	r.others[name] = p
	r.addrs[name] = address
}

// redisArgs are the kit's throwaway-server arguments, logging warnings only (the stack's output
// is a developer's terminal) and serving a replica's full sync at once.
func redisArgs(port int, dir string) []string {
	return append(testkit.RedisArgs(port, dir), "--loglevel", "warning", "--repl-diskless-sync-delay", "0")
}

func startRedis(mode RedisMode, port int, dir string, out io.Writer) (*redisInstance, error) {
	path, lookErr := exec.LookPath("redis-server")
	switch {
	case mode == RedisEmbedded || (mode == RedisAuto && lookErr != nil):
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr(addr(port)); err != nil {
			return nil, fmt.Errorf("stack: start embedded redis on %s: %w", addr(port), err)
		}
		return &redisInstance{kind: "miniredis", mini: m}, nil
	case lookErr != nil:
		return nil, fmt.Errorf("stack: redis-server: %w", lookErr)
	}
	p, err := startProcess(PartRedis, path, redisArgs(port, dir), nil, dir, out)
	if err != nil {
		return nil, err
	}
	kind := "redis-server"
	if mode == RedisSentinel {
		kind = "redis-sentinel"
	}
	return &redisInstance{kind: kind, proc: p, path: path, others: map[string]*process{}, addrs: map[string]string{PartRedis: addr(port)}}, nil
}

func (r *redisInstance) close() error {
	if r.mini != nil {
		r.mini.Close()
		return nil
	}
	var errs []error
	for _, name := range []string{PartRedisSentinel, PartRedisReplica} {
		if p := r.others[name]; p != nil {
			errs = append(errs, p.stop(shutdownGrace))
		}
	}
	errs = append(errs, r.proc.stop(shutdownGrace))
	return errors.Join(errs...)
}
