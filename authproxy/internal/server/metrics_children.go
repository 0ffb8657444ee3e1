package server

// The label values each counter is known to take. initChildren creates their
// series at zero when authproxy starts, so /metrics shows every counter before
// its first event: an alert or dashboard rate over a counter that has not
// counted yet then reads 0 instead of nothing, and hack/promtest can check
// that every name the chart's rules and dashboard use is scraped.
var (
	refreshOutcomes = []string{"refreshed", "shared", "invalid_grant", "rejected", "lock_failed", "error"}
	loginOutcomes   = []string{"ok", "idp_error", "bad_request", "state_not_bound", "state_unknown", "exchange_failed"}
	storeOps        = []string{"load", "create", "save", "delete", "lock", "spend_state"}
)

// initChildren creates the zero series of the refresh, login and session
// store error counters.
func (m *metrics) initChildren() {
	for _, o := range refreshOutcomes {
		m.refreshes.WithLabelValues(o)
	}
	for _, o := range loginOutcomes {
		m.logins.WithLabelValues(o)
	}
	for _, op := range storeOps {
		m.storeErrs.WithLabelValues(op)
	}
}
