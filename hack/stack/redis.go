package stack

import (
	"fmt"
	"io"
	"os/exec"
	"strconv"

	"github.com/alicebob/miniredis/v2"
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
)

// redisInstance is a running Redis, real or embedded.
type redisInstance struct {
	kind string // "redis-server" or "miniredis"
	proc *process
	mini *miniredis.Miniredis
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
	args := []string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
	}
	p, err := startProcess(PartRedis, path, args, nil, dir, out)
	if err != nil {
		return nil, err
	}
	return &redisInstance{kind: "redis-server", proc: p}, nil
}

func (r *redisInstance) close() error {
	if r.mini != nil {
		r.mini.Close()
		return nil
	}
	return r.proc.stop(shutdownGrace)
}
