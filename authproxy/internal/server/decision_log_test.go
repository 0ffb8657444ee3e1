package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
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
// decision with info logging off (production at warn), on for every
// decision, and on with the default --decision-log-rate (100 lines a
// second: nearly every decision of the loop is counted, not written).
func BenchmarkDecisionBookkeeping(b *testing.B) {
	r := httptest.NewRequest("GET", "/authz", nil)
	allow := result{req: forward.Request{Method: "GET", Host: "gw", Path: "/products"}, rule: &policy.Rule{Name: "catalog"}, p: &principal{userID: "u1"}}
	for _, c := range []struct {
		name  string
		level slog.Level
		rate  int
	}{{"WARN", slog.LevelWarn, 0}, {"INFO", slog.LevelInfo, 0}, {"INFO-rate-100", slog.LevelInfo, 100}} {
		b.Run(c.name, func(b *testing.B) {
			s := &Server{log: httpkit.NewLogger(io.Discard, c.level), metrics: newMetrics([]string{"catalog"}),
				now: time.Now, allowLines: newLineBudget(c.rate)}
			b.ReportAllocs()
			for b.Loop() {
				s.logDecision(r, dialectForwarded, allow, time.Millisecond)
			}
		})
	}
}

// TestNoSecretsInLogsOrMetrics drives a login, decisions with good and bad
// bearer tokens, a refresh, a replayed callback and a logout, then checks
// that no token, code, cookie or secret reached the logs, and that metric
// labels name rules, never paths or users.
func TestNoSecretsInLogsOrMetrics(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	e, ps := newEnv(t, envOpts{now: clock.Now, idp: func(c *devidp.Config) { c.Now = clock.Now }})
	p := ps[0]
	b := newBrowser(t)
	cb := b.idpLogin(b.startLogin(p, "/account/secret-path-1"), "admin@example.com")
	cbURL, _ := url.Parse(cb)
	code, state := cbURL.Query().Get("code"), cbURL.Query().Get("state")
	if resp, body := b.get(cb); resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	b.get(cb) // replayed callback: refused and logged
	cookie := b.session(p)
	first := loadSession(t, p, cookie)
	forgedJWT := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	for _, f := range []fwd{
		{uri: "/account/" + adminID, cookie: cookie},
		{uri: "/admin/user-path-2", bearer: first.AccessToken},
		{uri: "/admin/user-path-3", bearer: forgedJWT, accept: jsonAccept},
		{uri: "/account/x", bearer: first.IDToken, accept: jsonAccept},
		{uri: "/nowhere/secret-path-4", cookie: cookie},
	} {
		f.send(t, p, dialectForwarded)
	}
	clock.Advance(59 * time.Minute) // refresh on the next request
	if resp, body := (fwd{uri: "/admin/x", cookie: cookie}).send(t, p, dialectForwarded); resp.StatusCode != http.StatusOK {
		t.Fatalf("after refresh: %d %s", resp.StatusCode, body)
	}
	second := loadSession(t, p, cookie)
	if second.AccessToken == first.AccessToken {
		t.Fatal("no refresh happened")
	}
	req, _ := http.NewRequest(http.MethodPost, p.url+"/oauth2/logout", nil)
	req.Header.Set("Origin", p.url)
	b.do(req)

	logs := e.logs.String()
	secrets := map[string]string{
		"code": code, "state": state, "cookie": cookie, "cookie secret half": strings.Split(cookie, ".")[1],
		"access token": first.AccessToken, "refreshed access token": second.AccessToken,
		"refresh token": first.RefreshToken, "id_token": first.IDToken, "forged bearer": forgedJWT,
		"client secret": devidp.DefaultClientSecret, "cookie-secret": "0123456789abcdef0123456789abcdef",
	}
	for name, v := range secrets {
		if v != "" && strings.Contains(logs, v) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
	if strings.Contains(logs, "eyJ") {
		t.Errorf("something JWT-shaped appears in the logs")
	}
	metrics := scrape(t, p)
	for _, v := range []string{"secret-path", "user-path", adminID, "/account", "/nowhere"} {
		if strings.Contains(metrics, v) {
			t.Errorf("metrics mention %q", v)
		}
	}
	if !strings.Contains(metrics, `authproxy_decisions_total{outcome="allow",rule="admin"}`) ||
		!strings.Contains(metrics, `authproxy_decisions_total{outcome="no_rule",rule=""}`) {
		t.Errorf("decision metrics lack rule labels:\n%s", metrics)
	}
}

// TestClientCanceledIsNotAStoreFailure: a decision whose client went away
// while its session was being read (a load run's end, a browser closing a
// tab) is logged as outcome "canceled" at INFO, not as the store being
// unavailable at ERROR, and the store error counter does not move.
func TestClientCanceledIsNotAStoreFailure(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{fakeIdP: true})
	p := ps[0]
	cookie, _ := e.sessionFor("admin@example.com")
	req := fwd{uri: "/admin/x", cookie: cookie}.request(t, p, dialectForwarded)
	req.RemoteAddr = "127.0.0.1:40000" // the trusted proxy, as over the wire
	ctx, cancel := context.WithCancel(req.Context())
	cancel()
	rec := httptest.NewRecorder()
	p.srv.Handler().ServeHTTP(rec, req.WithContext(ctx))

	logs := e.logs.String()
	if !strings.Contains(logs, `"outcome":"canceled"`) {
		t.Fatalf("answer %d %s; no decision logged as canceled:\n%s", rec.Code, rec.Body, logs)
	}
	if strings.Contains(logs, `"level":"ERROR"`) || strings.Contains(logs, `"outcome":"unavailable"`) {
		t.Errorf("a client's cancellation was logged as a failure:\n%s", logs)
	}
	// The series exist from the start at 0 (metrics_children.go); none may have counted.
	for line := range strings.Lines(scrape(t, p)) {
		if strings.HasPrefix(line, "authproxy_session_store_errors_total{") && !strings.HasSuffix(line, " 0\n") {
			t.Errorf("a client's cancellation counted as a store error: %s", line)
		}
	}
}
