package sessiontest

import (
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// The names below are the test kit's; they stay here only for authproxy/internal/server's
// tests, which use them under these names, until those import hack/testkit themselves. New
// code uses testkit directly.

// RedisServer is testkit.RedisServer.
type RedisServer = testkit.RedisServer

// Clock is testkit.Clock.
type Clock = testkit.Clock

// StartRedis is testkit.StartRedis.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	return testkit.StartRedis(t)
}

// NewClock is testkit.NewClock.
func NewClock(start time.Time) *Clock { return testkit.NewClock(start) }
