package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/audit"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
)

// Log attribute keys of the rules reload.
const (
	keyRules     = "rules"
	keyRulesHash = "hash"
	keyFile      = "file"
	keyProblems  = "problems"
	keyInForce   = "in_force"
)

// liveRules are the route rules in force. A decision reads them once
// (current) and matches against that one snapshot, so a reload swapping
// them mid-decision gives it the old rules or the new ones, never a mix.
type liveRules struct {
	ptr atomic.Pointer[policy.Rules]
	// mu serialises reloads; seen is the content hash of the file as last
	// read (valid or not, or the read error), so that an unchanged file
	// costs a read and a hash, and a broken one is reported once.
	mu   sync.Mutex
	seen string
}

func (l *liveRules) init(r *policy.Rules) {
	l.ptr.Store(r)
	l.seen = r.Hash()
}

// current returns the rules in force.
func (l *liveRules) current() *policy.Rules { return l.ptr.Load() }

// WatchRules reads the rules file every interval until ctx ends and swaps
// in the rules of a changed file (ReloadRules). Reading the file's content
// rather than watching it for events is what sees a Kubernetes ConfigMap
// update: the kubelet swaps a `..data` symlink, and the mounted file itself
// never changes. Package app starts it when rules-reload is on.
func (s *Server) WatchRules(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.ReloadRules()
		}
	}
}

// ReloadRules reads the rules file once. When its content differs from the
// last read, it is parsed and checked as at start (config.Config.ParseRules):
// valid rules replace the rules in force, their decision metrics are
// pre-created, and "rules reloaded" is logged with their count and hash;
// an invalid file (or one that cannot be read) keeps the rules in force,
// logs every problem and sets authproxy_rules_reload_failed until a valid
// file is read. Each changed content counts once in
// authproxy_rules_reloads_total{result}.
func (s *Server) ReloadRules() {
	l := &s.rules
	l.mu.Lock()
	defer l.mu.Unlock()
	path := s.cfg.RulesFile
	data, err := os.ReadFile(path) //nolint:gosec // G304: the path comes from the operator's configuration
	hash, seen := "", "unreadable: "+fmt.Sprint(err)
	if err == nil {
		hash = policy.HashOf(data)
		seen = hash
	}
	if seen == l.seen {
		return
	}
	l.seen = seen
	var rules *policy.Rules
	if err == nil {
		rules, err = s.cfg.ParseRules(data)
	}
	// Log, count, then (on success) swap: whoever sees the effect (a
	// decision under the new rules, the counter) finds the record before it.
	if err != nil {
		// Every problem, as a list; the rules file holds no secret. hash is
		// the refused content's (none when unreadable), in_force the kept
		// rules'.
		attrs := []slog.Attr{slog.String(keyFile, path)}
		if hash != "" {
			attrs = append(attrs, slog.String(keyRulesHash, hash))
		}
		attrs = append(attrs, slog.String(keyInForce, l.current().Hash()), slog.Any(keyProblems, problems(err)))
		s.log.LogAttrs(context.Background(), slog.LevelError, "rules reload failed, keeping the rules in force", attrs...)
		s.metrics.reloadFailed.Set(1)
		s.metrics.reloadErr.Inc()
		return
	}
	s.metrics.addRules(ruleNames(rules.All()))
	s.log.Info("rules reloaded", slog.String(keyFile, path), slog.Int(keyRules, rules.Len()), slog.String(keyRulesHash, rules.Hash()))
	audit.RulesReloaded(context.Background(), s.log, path, rules.Len(), rules.Hash())
	s.metrics.reloadFailed.Set(0)
	s.metrics.reloadOK.Inc()
	l.ptr.Store(rules)
}

// problems flattens joined errors into the messages of the single
// problems they hold (the policy.ErrInvalidRules sentinel wrapping them
// says nothing more).
func problems(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				walk(inner)
			}
			return
		}
		if e != policy.ErrInvalidRules { //nolint:errorlint // the sentinel itself, not what wraps it
			out = append(out, e.Error())
		}
	}
	walk(err)
	return out
}
