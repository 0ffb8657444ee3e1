// Package testkit is the one kit the repository's tests and harnesses share: a fake clock
// (Clock), a log sink safe for concurrent writers (LogBuffer), polling until a condition holds
// (Poll, WaitFor, WaitUntil; HTTPOK as a readiness probe), a free port (PickPort, FreePort) and a real redis-server child process
// (Redis, StartRedis). Each exists here once, not once per package.
//
// Helpers that take a testing.TB are for tests: they fail (or skip) the test and clean up when
// it ends. The others return errors and take a context, for harness programs (hack/bench,
// hack/stack) as much as for tests. The package imports the standard library only, so any
// test may use it; signing in at the dev IdP lives in testkit/devlogin and building the
// binaries in testkit/gobuild.
package testkit
