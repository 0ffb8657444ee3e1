package server

import (
	"context"
	"errors"
	"maps"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// Outcomes of a decision (metric label and log attribute).
const (
	outcomeAllow           = "allow"
	outcomeUnauthenticated = "unauthenticated"
	outcomeForbidden       = "forbidden"
	outcomeNoRule          = "no_rule"
	outcomeUnavailable     = "unavailable"
	outcomeBadRequest      = "bad_request"
	outcomeUntrusted       = "untrusted_peer"
	outcomeError           = "error"
	outcomeCrossSite       = "cross_site"
	outcomeCanceled        = "canceled" // the client went away first
)

var outcomes = [...]string{
	outcomeAllow, outcomeUnauthenticated, outcomeForbidden, outcomeNoRule,
	outcomeUnavailable, outcomeBadRequest, outcomeUntrusted, outcomeError, outcomeCrossSite, outcomeCanceled,
}

// decisionKey names one child of the decisions counter.
type decisionKey struct{ rule, outcome string }

// metrics are authproxy's Prometheus collectors, registered on a registry
// of their own (no global default registry).
type metrics struct {
	reg       *prometheus.Registry
	decisions *prometheus.CounterVec
	// decided holds the decisions children for every rule (and "" for no
	// rule) × outcome, looked up once here rather than per decision. The
	// map is never written once stored: a rules reload stores a copy with
	// the new rules' children added (addRules).
	decided    atomic.Pointer[map[decisionKey]prometheus.Counter]
	latency    *prometheus.HistogramVec
	storeErrs  *prometheus.CounterVec
	refreshes  *prometheus.CounterVec
	tokenCache *prometheus.CounterVec
	tokenHit   prometheus.Counter
	tokenMiss  prometheus.Counter
	logins     *prometheus.CounterVec
	// rules reload (rules.go)
	reloadFailed prometheus.Gauge
	reloadOK     prometheus.Counter
	reloadErr    prometheus.Counter
}

// newMetrics builds the collectors; rules are the route rule names.
func newMetrics(rules []string) *metrics {
	const ns = "authproxy"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "decisions_total",
			Help: "Forward-auth decisions by rule and outcome.",
		}, []string{"rule", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "decision_duration_seconds",
			Help:    "Time to reach a forward-auth decision, by dialect.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"dialect"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "session_store_errors_total",
			Help: "Session store operations that failed because the store was unavailable.",
		}, []string{"op"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "token_refreshes_total",
			Help: "Access token refreshes by outcome (refreshed, shared, invalid_grant, rejected, lock_failed, error).",
		}, []string{"outcome"}),
		tokenCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "minted_token_cache_total",
			Help: "Gateway token cache lookups by result (hit, miss).",
		}, []string{"result"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "logins_total",
			Help: "Completed and failed logins at /oauth2/callback.",
		}, []string{"outcome"}),
	}
	m.decided.Store(&map[decisionKey]prometheus.Counter{})
	m.addRules(append([]string{""}, rules...))
	m.initChildren()
	m.tokenHit = m.tokenCache.WithLabelValues("hit")
	m.tokenMiss = m.tokenCache.WithLabelValues("miss")
	m.reloadFailed = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "rules_reload_failed",
		Help: "1 while the rules file on disk is invalid (the rules in force are the last valid ones), 0 otherwise.",
	})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "rules_reloads_total",
		Help: "Reloads of a changed rules file by result (ok, error).",
	}, []string{"result"})
	m.reloadOK, m.reloadErr = reloads.WithLabelValues("ok"), reloads.WithLabelValues("error")
	m.reg.MustRegister(m.decisions, m.latency, m.storeErrs, m.refreshes, m.tokenCache, m.logins,
		m.reloadFailed, reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// addRules pre-creates the decisions children of the rules named (a rules
// reload's new rules among them). The children of rules no longer in force
// stay: their counts are history, and a decision still running on the old
// rules may count one more. Callers are serialised (New, then the reload).
func (m *metrics) addRules(rules []string) {
	old := *m.decided.Load()
	next := make(map[decisionKey]prometheus.Counter, len(old)+len(rules)*len(outcomes))
	maps.Copy(next, old)
	for _, rule := range rules {
		for _, o := range outcomes {
			if _, ok := next[decisionKey{rule, o}]; !ok {
				next[decisionKey{rule, o}] = m.decisions.WithLabelValues(rule, o)
			}
		}
	}
	m.decided.Store(&next)
}

// decision counts one decision.
func (m *metrics) decision(rule, outcome string) {
	if c, ok := (*m.decided.Load())[decisionKey{rule, outcome}]; ok {
		c.Inc()
		return
	}
	m.decisions.WithLabelValues(rule, outcome).Inc()
}

// storeErr counts a session store failure of op when it is an outage.
func (m *metrics) storeErr(op string, err error) {
	if errors.Is(err, session.ErrUnavailable) && !errors.Is(err, context.Canceled) {
		m.storeErrs.WithLabelValues(op).Inc()
	}
}
