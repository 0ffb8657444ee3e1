package server

import (
	"context"
	"errors"

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
	// rule) × outcome, looked up once here rather than per decision.
	// Read-only after newMetrics.
	decided    map[decisionKey]prometheus.Counter
	latency    *prometheus.HistogramVec
	storeErrs  *prometheus.CounterVec
	refreshes  *prometheus.CounterVec
	tokenCache *prometheus.CounterVec
	tokenHit   prometheus.Counter
	tokenMiss  prometheus.Counter
	logins     *prometheus.CounterVec
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
	m.decided = make(map[decisionKey]prometheus.Counter, (len(rules)+1)*len(outcomes))
	for _, rule := range append([]string{""}, rules...) {
		for _, o := range outcomes {
			m.decided[decisionKey{rule, o}] = m.decisions.WithLabelValues(rule, o)
		}
	}
	m.tokenHit = m.tokenCache.WithLabelValues("hit")
	m.tokenMiss = m.tokenCache.WithLabelValues("miss")
	m.reg.MustRegister(m.decisions, m.latency, m.storeErrs, m.refreshes, m.tokenCache, m.logins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// decision counts one decision.
func (m *metrics) decision(rule, outcome string) {
	if c, ok := m.decided[decisionKey{rule, outcome}]; ok {
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
