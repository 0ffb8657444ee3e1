package testkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Polling defaults of WaitFor and WaitUntil.
const (
	// WaitTimeout is how long WaitFor waits.
	WaitTimeout = 10 * time.Second
	// waitForInterval is WaitFor's pause between checks (cheap in-process conditions).
	waitForInterval = 5 * time.Millisecond
	// waitUntilInterval is WaitUntil's pause between checks (they usually talk to a server).
	waitUntilInterval = 20 * time.Millisecond
)

// errNotYet is the last error of a bool condition that never held.
var errNotYet = errors.New("condition not met")

// abortError ends a Poll at once.
type abortError struct{ err error }

func (a *abortError) Error() string { return a.err.Error() }
func (a *abortError) Unwrap() error { return a.err }

// Abort marks err as final: a check that returns Abort(err) ends Poll (and WaitUntil) at once
// with err, instead of being tried again (a watched process has exited, say).
func Abort(err error) error { return &abortError{err: err} }

// Poll calls check until it returns nil, waiting interval between calls, and returns nil then.
// It gives up when timeout passes (0: no timeout of its own), when ctx ends, or when check
// returns an error made by Abort; the error names what it was waiting for and wraps check's
// last error. Use it only where there is no event to wait on.
func Poll(ctx context.Context, what string, timeout, interval time.Duration, check func(context.Context) error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		last := check(ctx)
		if last == nil {
			return nil
		}
		if a, ok := errors.AsType[*abortError](last); ok {
			return fmt.Errorf("waiting for %s: %w", what, a.err)
		}
		select {
		case <-ctx.Done():
			if timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %v waiting for %s: %w", timeout, what, last)
			}
			return fmt.Errorf("waiting for %s: %w (last: %w)", what, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// WaitFor polls cond until it holds, failing t after WaitTimeout with a message naming what.
// It may be called from a Cleanup function too (it does not use t.Context).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitFor(t, what, WaitTimeout, cond)
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	err := Poll(context.Background(), what, timeout, waitForInterval, func(context.Context) error {
		if cond() {
			return nil
		}
		return errNotYet
	})
	if err != nil {
		t.Fatal(err)
	}
}

// WaitUntil polls check until it returns nil, failing t after timeout with a message naming
// what and check's last error (or at once when check returns an error made by Abort).
func WaitUntil(t testing.TB, what string, timeout time.Duration, check func(context.Context) error) {
	t.Helper()
	if err := Poll(context.Background(), what, timeout, waitUntilInterval, check); err != nil {
		t.Fatal(err)
	}
}

// HTTPOK is a readiness probe for Poll: nil once GET url with c (nil: http.DefaultClient)
// answers 200.
func HTTPOK(ctx context.Context, c *http.Client, url string) error {
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}
