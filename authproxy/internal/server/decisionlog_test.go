package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

func TestLineBudget(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	type step struct {
		at             time.Duration
		ok             bool
		suppressedWant int64
	}
	tests := []struct {
		name      string
		perSecond int
		steps     []step
	}{
		{name: "two a second", perSecond: 2, steps: []step{
			{at: 0, ok: true}, {at: 100 * time.Millisecond, ok: true},
			{at: 200 * time.Millisecond}, {at: 999 * time.Millisecond},
			{at: time.Second, ok: true, suppressedWant: 2}, {at: 1100 * time.Millisecond, ok: true},
			{at: 1500 * time.Millisecond},
			{at: 3 * time.Second, ok: true, suppressedWant: 1},
		}},
		{name: "one a second", perSecond: 1, steps: []step{
			{at: 0, ok: true}, {at: 10 * time.Millisecond}, {at: 20 * time.Millisecond}, {at: 30 * time.Millisecond},
			{at: 2 * time.Second, ok: true, suppressedWant: 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newLineBudget(tt.perSecond)
			for i, s := range tt.steps {
				ok, suppressed := b.take(t0.Add(s.at))
				if ok != s.ok || suppressed != s.suppressedWant {
					t.Fatalf("step %d (+%s): take = %v, %d; want %v, %d", i, s.at, ok, suppressed, s.ok, s.suppressedWant)
				}
			}
		})
	}
	if newLineBudget(0) != nil {
		t.Error("newLineBudget(0) is not nil (0 must log every decision)")
	}
}

// Over --decision-log-rate, allow lines are left out and counted on the
// next one; denials and errors are written whatever the budget; every
// decision is still counted in the metric.
func TestDecisionLogRate(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	s := &Server{log: httpkit.NewLogger(&logs, slog.LevelInfo), metrics: newMetrics([]string{"catalog", "admin"}),
		now: clock.Now, allowLines: newLineBudget(1)}
	r := httptest.NewRequest("GET", "/authz", nil)
	req := forward.Request{Method: "GET", Host: "gw", Path: "/products"}
	allow := result{req: req, rule: &policy.Rule{Name: "catalog"}, p: &principal{userID: "u1"}}
	deny := result{req: req, rule: &policy.Rule{Name: "admin"}, p: &principal{userID: "u1"}, err: &decisionError{err: ErrForbidden, rule: "admin"}}
	down := result{req: req, rule: &policy.Rule{Name: "admin"}, err: fmt.Errorf("load: %w", ErrUnavailable)}
	for _, res := range []result{allow, allow, deny, allow, down} {
		s.logDecision(r, dialectForwarded, res, time.Millisecond)
	}
	clock.Advance(time.Second)
	s.logDecision(r, dialectForwarded, allow, time.Millisecond)

	type line struct {
		Outcome    string `json:"outcome"`
		Rule       string `json:"rule"`
		Suppressed int64  `json:"suppressed"`
	}
	var got []line
	dec := json.NewDecoder(&logs)
	for dec.More() {
		var l line
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
	}
	want := []line{
		{Outcome: outcomeAllow, Rule: "catalog"},
		{Outcome: outcomeForbidden, Rule: "admin"},
		{Outcome: outcomeUnavailable, Rule: "admin"},
		{Outcome: outcomeAllow, Rule: "catalog", Suppressed: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decision lines (-want +got):\n%s", diff)
	}
	if n := decisionCount(t, s.metrics, "catalog", outcomeAllow); n != 4 {
		t.Errorf("counted %v allowed decisions; want 4", n)
	}
}

// Within one second, concurrent decisions let exactly perSecond lines
// through, and the next second's first line counts every one left out.
func TestLineBudgetConcurrent(t *testing.T) {
	t.Parallel()
	const perSecond, workers, each = 50, 8, 500
	b := newLineBudget(perSecond)
	t0 := time.Unix(1_700_000_000, 0)
	var wg sync.WaitGroup
	var passed, reported atomic.Int64
	for range workers {
		wg.Go(func() {
			for range each {
				if ok, n := b.take(t0); ok {
					passed.Add(1)
					reported.Add(n)
				}
			}
		})
	}
	wg.Wait()
	if got := passed.Load(); got != perSecond {
		t.Errorf("%d lines through in one second, want %d", got, perSecond)
	}
	// Every left-out line is reported once: by a line of the same second
	// that was written after it, or by the next second's first line.
	ok, n := b.take(t0.Add(time.Second))
	if !ok || reported.Load()+n != workers*each-perSecond {
		t.Errorf("next second: take = %v; reported %d + %d, want %d in all", ok, reported.Load(), n, workers*each-perSecond)
	}
}
