package server

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

// TestDecisionBookkeepingCost: counting and logging an allowed decision
// allocates nothing when the logger is not enabled for its level, and still
// counts it; outcomes at an enabled level are still logged. (The time saved
// by the once-looked-up counter and the skipped attributes shows in
// BenchmarkDecisionBookkeeping, not here: both paths were already free of
// allocations.)
//
// Not parallel: testing.AllocsPerRun refuses to run in a parallel test.
func TestDecisionBookkeepingCost(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: httpkit.NewLogger(&logs, slog.LevelWarn), metrics: newMetrics([]string{"catalog", "admin"})}
	r := httptest.NewRequest("GET", "/authz", nil)
	allow := result{req: forward.Request{Method: "GET", Host: "gw", Path: "/products"}, rule: &policy.Rule{Name: "catalog"}, p: &principal{userID: "u1"}}
	allocs := testing.AllocsPerRun(100, func() { s.logDecision(r, dialectForwarded, allow, time.Millisecond) })
	if allocs != 0 {
		t.Errorf("allowed decision, info logging off: %v allocations; want 0", allocs)
	}
	if got := decisionCount(t, s.metrics, "catalog", outcomeAllow); got != 101 {
		t.Errorf("counted %v allowed decisions; want 101", got)
	}
	if logs.Len() != 0 {
		t.Errorf("info decision logged at warn level: %s", logs.String())
	}

	down := result{req: allow.req, rule: &policy.Rule{Name: "admin"}, err: fmt.Errorf("load: %w", ErrUnavailable)}
	s.logDecision(r, dialectNginx, down, time.Millisecond)
	if l := logs.String(); !strings.Contains(l, `"msg":"decision"`) || !strings.Contains(l, `"outcome":"unavailable"`) || !strings.Contains(l, `"rule":"admin"`) {
		t.Errorf("unavailable decision not logged at error level: %s", l)
	}
	if got := decisionCount(t, s.metrics, "admin", outcomeUnavailable); got != 1 {
		t.Errorf("counted %v unavailable decisions; want 1", got)
	}
}

// decisionCount reads authproxy_decisions_total{rule, outcome} from m's registry.
func decisionCount(t *testing.T, m *metrics, rule, outcome string) float64 {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "authproxy_decisions_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["rule"] == rule && labels["outcome"] == outcome {
				return mt.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// BenchmarkDecisionBookkeeping: metrics and log line of one allowed
// decision with info logging off (production at warn) and on.
func BenchmarkDecisionBookkeeping(b *testing.B) {
	r := httptest.NewRequest("GET", "/authz", nil)
	allow := result{req: forward.Request{Method: "GET", Host: "gw", Path: "/products"}, rule: &policy.Rule{Name: "catalog"}, p: &principal{userID: "u1"}}
	for _, level := range []slog.Level{slog.LevelWarn, slog.LevelInfo} {
		b.Run(level.String(), func(b *testing.B) {
			s := &Server{log: httpkit.NewLogger(io.Discard, level), metrics: newMetrics([]string{"catalog"})}
			b.ReportAllocs()
			for b.Loop() {
				s.logDecision(r, dialectForwarded, allow, time.Millisecond)
			}
		})
	}
}
