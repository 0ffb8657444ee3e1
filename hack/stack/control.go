package stack

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall"
)

// Part names for Kill, Restart, Signal and PIDs: "redis" (redis-server only; with
// RedisSentinel also "redis-replica" and "redis-sentinel"), "devidp",
// "authproxy" (the first replica), "authproxy-2"..., "catalog", "inventory", and "nginx" or
// "caddy" for a proxy run as a child (the embedded Caddy is not a process).
const PartRedis = "redis"

// authProxyName names replica i (0-based): "authproxy", then "authproxy-2", ...
func authProxyName(i int) string {
	if i == 0 {
		return "authproxy"
	}
	return "authproxy-" + strconv.Itoa(i+1)
}

// ErrNoPart is returned for a part name the stack does not run as a process.
var ErrNoPart = errors.New("no such part")

// part finds a running (or exited) process by name; redis is looked up too.
func (s *Stack) part(name string) (*process, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == PartRedis || name == PartRedisReplica || name == PartRedisSentinel {
		if s.redis == nil || s.redis.proc == nil {
			return nil, -1, fmt.Errorf("stack: %s (embedded redis cannot be stopped): %w", name, ErrNoPart)
		}
		if name == PartRedis {
			return s.redis.proc, -1, nil
		}
		if p := s.redis.others[name]; p != nil {
			return p, -1, nil
		}
		return nil, -1, fmt.Errorf("stack: %s (not a Sentinel deployment): %w", name, ErrNoPart)
	}
	for i, p := range s.procs {
		if p.name == name {
			return p, i, nil
		}
	}
	return nil, -1, fmt.Errorf("stack: %s: %w", name, ErrNoPart)
}

// Kill ends a part with SIGKILL (no graceful shutdown) and waits until it has exited.
func (s *Stack) Kill(name string) error {
	p, _, err := s.part(name)
	if err != nil {
		return err
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		select {
		case <-p.done:
			return nil
		default:
			return fmt.Errorf("stack: kill %s: %w", name, err)
		}
	}
	<-p.done
	return nil
}

// Signal sends sig to a part (SIGSTOP and SIGCONT pause and resume it).
func (s *Stack) Signal(name string, sig syscall.Signal) error {
	p, _, err := s.part(name)
	if err != nil {
		return err
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("stack: signal %s %v: %w", name, sig, err)
	}
	return nil
}

// Restart starts a part that Kill ended, with the same command line on the same port, and
// waits (bounded by ctx and the stack's ReadyTimeout) until it is ready again.
func (s *Stack) Restart(ctx context.Context, name string) error {
	old, i, err := s.part(name)
	if err != nil {
		return err
	}
	select {
	case <-old.done:
	default:
		return fmt.Errorf("stack: restart %s: still running (Kill it first)", name)
	}
	p, err := old.restart()
	if err != nil {
		return err
	}
	s.mu.Lock()
	redisAddr, isRedis := "", false
	switch {
	case name == PartRedis:
		s.redis.proc, redisAddr, isRedis = p, s.RedisAddr, true
	case i < 0:
		s.redis.others[name], redisAddr, isRedis = p, s.redis.addrs[name], true
	default:
		s.procs[i] = p
	}
	readyURL := s.ready[name]
	s.mu.Unlock()
	if isRedis {
		return waitTCP(ctx, redisAddr, s.readyTimeout, p)
	}
	if readyURL == "" {
		return nil
	}
	return waitHTTP(ctx, readyURL, s.readyTimeout, p)
}

// PIDs maps every running part to its process id.
func (s *Stack) PIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	procs := append([]*process(nil), s.procs...)
	if s.redis != nil && s.redis.proc != nil {
		procs = append(procs, s.redis.proc)
		for _, p := range s.redis.others {
			procs = append(procs, p)
		}
	}
	for _, p := range procs {
		select {
		case <-p.done:
		default:
			out[p.name] = p.cmd.Process.Pid
		}
	}
	return out
}
