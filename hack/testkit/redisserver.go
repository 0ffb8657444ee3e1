package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// NeedRedis returns the path of redis-server, skipping t when it is not on PATH, or failing t
// when the environment variable CI is set (there a skipped real-Redis test would pass unseen).
func NeedRedis(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not on PATH (required when CI is set): %v", err)
		}
		t.Skip("redis-server not on PATH; install it (Debian: apt-get install redis-server) to run this test")
	}
	return path
}

// RedisServer is a Redis owned by one test: its methods fail the test where Redis's return an
// error, and it is stopped when the test ends (its output logged if the test failed).
type RedisServer struct {
	*Redis
	t testing.TB
}

// StartRedis starts a plain redis-server for t (see StartRedisWith).
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	return StartRedisWith(t, RedisOptions{})
}

// StartRedisWith starts redis-server with o for t and returns once it answers. Without Bin, t
// is skipped when redis-server is not on PATH (see NeedRedis); without Dir, the server works in
// a directory of t.TempDir.
func StartRedisWith(t testing.TB, o RedisOptions) *RedisServer {
	t.Helper()
	if o.Bin == "" {
		o.Bin = NeedRedis(t)
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	r, err := NewRedis(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("redis-server on %s logged:\n%s", r.Addr(), r.Output())
		}
	})
	s := &RedisServer{Redis: r, t: t}
	s.Start()
	return s
}

// Start starts the server again (after Stop), on the same port.
func (s *RedisServer) Start() {
	s.t.Helper()
	if err := s.Redis.Start(s.t.Context()); err != nil {
		s.t.Fatal(err)
	}
}

// Stop kills the server; Start brings it back.
func (s *RedisServer) Stop() {
	s.t.Helper()
	if err := s.Redis.Stop(); err != nil {
		s.t.Fatal(err)
	}
}

// Pause freezes the server (see Redis.Pause).
func (s *RedisServer) Pause() {
	s.t.Helper()
	if err := s.Redis.Pause(); err != nil {
		s.t.Fatal(err)
	}
}

// Resume continues a paused server.
func (s *RedisServer) Resume() {
	s.t.Helper()
	if err := s.Redis.Resume(); err != nil {
		s.t.Fatal(err)
	}
}
