package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// Log attribute of the revocation retention.
const keyRetention = "revocation_retention"

// lifetimeWatch compares the access-token lifetimes the provider announces
// with the revocation retention: a token that lives longer than its
// revocation is listed would be accepted again once the entry expires.
type lifetimeWatch struct {
	retention time.Duration
	log       *slog.Logger
	longest   atomic.Int64 // nanoseconds; 0 = none seen
	warned    atomic.Bool
}

func newLifetimeWatch(retention time.Duration, log *slog.Logger) *lifetimeWatch {
	if retention <= 0 {
		retention = session.DefaultRevocationRetention
	}
	return &lifetimeWatch{retention: retention, log: log}
}

// observe records lifetime l and warns once when it exceeds the retention.
func (w *lifetimeWatch) observe(ctx context.Context, l time.Duration) {
	if w == nil || l <= 0 {
		return
	}
	for {
		cur := w.longest.Load()
		if time.Duration(cur) >= l || w.longest.CompareAndSwap(cur, int64(l)) {
			break
		}
	}
	if l > w.retention && !w.warned.Swap(true) {
		w.log.WarnContext(ctx, "the provider's access tokens live longer than revocation-retention: a revoked access token is accepted again once its revocation expires; raise revocation-retention to at least the lifetime",
			slog.Duration(keyTokenLifetime, l), slog.Duration(keyRetention, w.retention))
	}
}

// registerRevocationMetrics exposes the retention against the longest
// access-token lifetime seen, and the size of the revocation feed as last
// built (its entries and bytes; a follower refuses a feed of more than
// jwtauth.MaxFeedSize bytes).
func (s *Server) registerRevocationMetrics(w *lifetimeWatch) {
	gauge := func(name, help string, f func() float64) {
		s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "authproxy", Name: name, Help: help}, f))
	}
	gauge("access_token_lifetime_max_seconds", "The longest access-token lifetime the identity provider announced (0 before the first login or refresh).",
		func() float64 { return time.Duration(w.longest.Load()).Seconds() })
	gauge("revocation_retention_seconds", "How long a revocation is listed in the revocation feed (--revocation-retention).",
		func() float64 { return w.retention.Seconds() })
	if s.feed == nil {
		return
	}
	gauge("revocation_feed_entries", "Entries (sessions and subjects) of the revocation feed as last built.",
		func() float64 { n, _ := s.feed.size(); return float64(n) })
	gauge("revocation_feed_bytes", "Size of the revocation feed document as last built; followers refuse one above 16 MiB.",
		func() float64 { _, b := s.feed.size(); return float64(b) })
}

// size is the last built document's entry count and bytes.
func (f *revocationFeed) size() (entries, bytes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.doc == nil {
		return 0, 0
	}
	return len(f.doc.Sessions) + len(f.doc.Subjects), len(f.body)
}
