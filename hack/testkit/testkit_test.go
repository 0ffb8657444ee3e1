package testkit

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// recorder is a testing.TB that records Fatal and Skip instead of ending the test; the helper
// under test runs in its own goroutine (see run), which Fatal and Skip end as theirs would.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	fatal   string
	skipped string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatal(args ...any) { r.end(&r.fatal, fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) { r.end(&r.fatal, fmt.Sprintf(format, args...)) }

func (r *recorder) Skip(args ...any) { r.end(&r.skipped, fmt.Sprint(args...)) }

func (r *recorder) end(field *string, msg string) {
	r.mu.Lock()
	*field = msg
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f with a recorder wrapping t and returns the recorder once f has returned or
// called Fatal or Skip.
func run(t *testing.T, f func(testing.TB)) *recorder {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}
