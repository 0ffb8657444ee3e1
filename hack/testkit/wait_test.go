package testkit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	t.Parallel()
	errDown := errors.New("server down")
	tests := []struct {
		name      string
		timeout   time.Duration
		failFirst int   // calls that fail before check succeeds; -1 = it never does
		fail      error // what a failing call returns
		wantErr   []string
		wantCalls int // exact number of calls; 0 = not checked
	}{
		{name: "holds at once", timeout: time.Second, wantCalls: 1},
		{name: "holds after a few tries", timeout: 5 * time.Second, failFirst: 3, fail: errDown, wantCalls: 4},
		{name: "times out", timeout: 50 * time.Millisecond, failFirst: -1, fail: errDown,
			wantErr: []string{"timed out after 50ms", "waiting for the answer", "server down"}},
		{name: "abort ends at once", timeout: 5 * time.Second, failFirst: -1, fail: Abort(errDown),
			wantErr: []string{"waiting for the answer: server down"}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := Poll(t.Context(), "the answer", tt.timeout, time.Millisecond, func(context.Context) error {
				calls++
				if tt.failFirst < 0 || calls <= tt.failFirst {
					return tt.fail
				}
				return nil
			})
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("Poll: %v", err)
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Poll error %v, want it to say %q", err, want)
				}
			}
			if tt.fail != nil && tt.failFirst < 0 && !errors.Is(err, errDown) {
				t.Errorf("Poll error %v does not wrap the check's error", err)
			}
			if tt.wantCalls != 0 && calls != tt.wantCalls {
				t.Errorf("check called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestPollStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Poll(ctx, "nothing", 0, time.Millisecond, func(context.Context) error { return errors.New("no") })
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for nothing") {
		t.Fatalf("Poll = %v, want context.Canceled naming the condition", err)
	}
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	t.Run("holds", func(t *testing.T) {
		t.Parallel()
		n := 0
		r := run(t, func(tb testing.TB) { WaitFor(tb, "three calls", func() bool { n++; return n == 3 }) })
		if r.fatal != "" || n != 3 {
			t.Fatalf("WaitFor failed (%q) or called cond %d times, want 3", r.fatal, n)
		}
	})
	t.Run("times out naming the condition", func(t *testing.T) {
		t.Parallel()
		r := run(t, func(tb testing.TB) {
			waitFor(tb, "the cache to warm up", 30*time.Millisecond, func() bool { return false })
		})
		if !strings.Contains(r.fatal, "timed out after 30ms waiting for the cache to warm up") {
			t.Fatalf("fatal message %q, want it to name the condition", r.fatal)
		}
	})
}

func TestWaitUntil(t *testing.T) {
	t.Parallel()
	t.Run("holds", func(t *testing.T) {
		t.Parallel()
		n := 0
		r := run(t, func(tb testing.TB) {
			WaitUntil(tb, "two calls", time.Second, func(context.Context) error {
				if n++; n < 2 {
					return errors.New("not yet")
				}
				return nil
			})
		})
		if r.fatal != "" || n != 2 {
			t.Fatalf("WaitUntil failed (%q) or called check %d times, want 2", r.fatal, n)
		}
	})
	t.Run("times out with the last error", func(t *testing.T) {
		t.Parallel()
		r := run(t, func(tb testing.TB) {
			WaitUntil(tb, "the replica", 30*time.Millisecond, func(context.Context) error { return errors.New("replica lagging") })
		})
		for _, want := range []string{"waiting for the replica", "replica lagging"} {
			if !strings.Contains(r.fatal, want) {
				t.Errorf("fatal message %q, want it to say %q", r.fatal, want)
			}
		}
	})
}

func TestHTTPOK(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		wantErr string
	}{
		{name: "200", status: http.StatusOK},
		{name: "503", status: http.StatusServiceUnavailable, wantErr: "status 503"},
		{name: "204 is not ready", status: http.StatusNoContent, wantErr: "status 204"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tt.status) }))
			t.Cleanup(ts.Close)
			err := HTTPOK(t.Context(), nil, ts.URL+"/readyz")
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("HTTPOK = %v, want error %q", err, tt.wantErr)
			}
		})
	}
}
