package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for RevocationConfig.
const (
	DefaultRevocationInterval = time.Second
	DefaultRevocationMaxStale = 5 * time.Second
)

// RevocationConfig makes a Verifier follow a revocation feed (see
// RevocationFeed): one background poll every Interval, never a call per
// request. A token whose session or subject the feed revokes is refused
// with ErrRevoked. Fail safe: while the last successful poll (200 or 304)
// is older than MaxStale, or before the first one, every token is refused
// with ErrRevocationsUnavailable (the middleware answers 503).
type RevocationConfig struct {
	URL      string        // absolute http(s) URL of the feed (authproxy's /revocations)
	Interval time.Duration // poll interval, and the timeout of one poll; 0 = DefaultRevocationInterval
	MaxStale time.Duration // 0 = DefaultRevocationMaxStale; at least Interval
	// GatewayIssuer is the issuer of authproxy's gateway tokens: its
	// anonymous tokens (sub "anonymous", no sid), which no revocation can
	// match, pass while the feed is stale, so public routes stay up. ""
	// = the issuer whose JWKS URL has the feed's origin (both are
	// authproxy's), if one has.
	GatewayIssuer string
}

// gatewayIssuer is GatewayIssuer, or the issuer among issuers whose JWKS
// comes from the feed's origin.
func (rc *RevocationConfig) gatewayIssuer(issuers []IssuerConfig) string {
	if rc.GatewayIssuer != "" {
		return rc.GatewayIssuer
	}
	feed, err := url.Parse(rc.URL)
	if err != nil {
		return ""
	}
	for _, ic := range issuers {
		if u, err := url.Parse(ic.JWKSURL); err == nil && ic.JWKSURL != "" &&
			strings.EqualFold(u.Scheme, feed.Scheme) && strings.EqualFold(u.Host, feed.Host) {
			return ic.Issuer
		}
	}
	return ""
}

func (rc *RevocationConfig) problems() []string {
	var out []string
	u, err := url.Parse(rc.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		out = append(out, fmt.Sprintf("revocation feed URL %q is not an absolute http(s) URL", rc.URL))
	}
	if rc.Interval < 0 || rc.MaxStale < 0 {
		out = append(out, "revocation interval or max staleness is negative")
	}
	interval, stale := rc.durations()
	if stale < interval {
		out = append(out, fmt.Sprintf("revocation max staleness %s is below the poll interval %s", stale, interval))
	}
	return out
}

func (rc *RevocationConfig) durations() (interval, stale time.Duration) {
	interval, stale = rc.Interval, rc.MaxStale
	if interval == 0 {
		interval = DefaultRevocationInterval
	}
	if stale == 0 {
		stale = DefaultRevocationMaxStale
	}
	return interval, stale
}

// RevocationSource yields revocation feed documents to a follower: held
// is the version the follower holds ("" for none); a nil document with a
// nil error means held is still current.
type RevocationSource interface {
	RevocationFeed(ctx context.Context, held string) (*RevocationFeed, error)
}

// follower polls a source and holds the last set read.
type follower struct {
	src      RevocationSource
	name     string // for messages: the feed's URL or "revocation store"
	interval time.Duration
	timeout  time.Duration // of one poll: at most the interval
	stale    time.Duration
	now      func() time.Time
	logger   *slog.Logger
	gateway  string // issuer whose anonymous tokens pass a stale feed ("" = none)

	set    atomic.Pointer[revocationSet]
	okAt   atomic.Int64 // unix nanoseconds of the last successful poll; 0 = none
	mu     sync.Mutex   // serialises polls
	failed bool         // the last poll failed (logged once per outage)
}

func newFollower(src RevocationSource, name string, interval, stale time.Duration, now func() time.Time, logger *slog.Logger) *follower {
	// One hung poll (a dial to a terminated pod) must not use up the
	// staleness bound: a poll gets at most one interval, and a failed one
	// is retried at once.
	return &follower{src: src, name: name, interval: interval, timeout: interval, stale: stale, now: now, logger: logger}
}

// run polls every interval until ctx ends, retrying a failed poll once at
// once.
func (f *follower) run(ctx context.Context) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	f.loop(ctx, t.C)
}

// loop polls on every tick until ctx ends.
func (f *follower) loop(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if f.poll(ctx) != nil && ctx.Err() == nil {
				_ = f.poll(ctx)
			}
		}
	}
}

// poll reads the source once (conditionally on the version held) and
// logs the start and the end of an outage, not every failed poll.
func (f *follower) poll(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.fetch(ctx)
	switch {
	case err != nil && !f.failed && ctx.Err() == nil:
		f.failed = true
		f.logger.WarnContext(ctx, "revocation feed unreachable", attrError, err.Error())
	case err == nil && f.failed:
		f.failed = false
		f.logger.InfoContext(ctx, "revocation feed reachable again")
	}
	return err
}

func (f *follower) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	held := f.set.Load()
	version := ""
	if held != nil {
		version = held.version
	}
	feed, err := f.src.RevocationFeed(ctx, version)
	if err != nil {
		return err
	}
	if feed != nil {
		f.set.Store(newRevocationSet(feed))
	} else if held == nil {
		return errors.New("jwtauth: revocation feed: no document")
	}
	f.okAt.Store(f.now().UnixNano())
	return nil
}

// httpSource reads authproxy's feed with conditional GETs.
type httpSource struct {
	url    string
	client *http.Client
}

func (h *httpSource) RevocationFeed(ctx context.Context, held string) (*RevocationFeed, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: revocation feed: %w", err)
	}
	if held != "" {
		req.Header.Set("If-None-Match", `"`+held+`"`)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: revocation feed: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && held != "":
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("jwtauth: revocation feed: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxFeedSize+1))
	if err != nil {
		return nil, fmt.Errorf("jwtauth: revocation feed: %w", err)
	}
	return ParseRevocationFeed(body)
}

// current is the held set, or an error wrapping ErrRevocationsUnavailable
// when it has not been read within the staleness bound.
func (f *follower) current() (*revocationSet, error) {
	set, ok := f.set.Load(), f.okAt.Load()
	if set == nil || ok == 0 || f.now().Sub(time.Unix(0, ok)) > f.stale {
		return nil, fmt.Errorf("%w: %s not read for more than %s", ErrRevocationsUnavailable, f.name, f.stale)
	}
	return set, nil
}

// check refuses c when the feed revokes it, or when the feed has not been
// read for longer than the staleness bound, unless no revocation can
// match c (see unrevocable).
func (f *follower) check(c *Claims) error {
	set, err := f.current()
	if err != nil {
		if f.unrevocable(c) {
			return nil
		}
		return err
	}
	if why := set.revoked(c); why != "" {
		return verifyErr(ErrRevoked, errors.New(why))
	}
	return nil
}

// AnonymousSubject is the subject of the gateway tokens authproxy mints
// for requests without a user (public rules).
const AnonymousSubject = "anonymous"

// unrevocable reports whether no revocation can match c: an anonymous
// gateway token (the gateway issuer, sub anonymous, no sid). Authproxy
// never records a revocation for it, so it passes a stale feed, and
// public routes stay up while Redis is down.
func (f *follower) unrevocable(c *Claims) bool {
	return f.gateway != "" && c.Issuer == f.gateway && c.Subject == AnonymousSubject && c.SessionID == ""
}

// fresh is nil while the feed is fresh.
func (f *follower) fresh() error {
	_, err := f.current()
	return err
}

// RevocationFollower holds an in-process copy of a revocation set read
// from a RevocationSource (authproxy reads its own store with it; a
// Verifier follows the HTTP feed with the same code). Fail safe like the
// Verifier: Check refuses every claim set while the copy is older than
// its staleness bound.
type RevocationFollower struct{ f *follower }

// NewRevocationFollower follows src every interval (0 =
// DefaultRevocationInterval) with the staleness bound maxStale (0 =
// DefaultRevocationMaxStale). Call Run.
func NewRevocationFollower(src RevocationSource, interval, maxStale time.Duration, now func() time.Time, logger *slog.Logger) *RevocationFollower {
	rc := RevocationConfig{Interval: interval, MaxStale: maxStale}
	interval, maxStale = rc.durations()
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &RevocationFollower{f: newFollower(src, "revocation store", interval, maxStale, now, logger)}
}

// Poll reads the source once.
func (r *RevocationFollower) Poll(ctx context.Context) error { return r.f.poll(ctx) }

// Run polls at once, then every interval until ctx ends.
func (r *RevocationFollower) Run(ctx context.Context) {
	_ = r.f.poll(ctx)
	r.f.run(ctx)
}

// Check returns nil for claims no held revocation matches, an error
// wrapping ErrRevoked for revoked ones, and one wrapping
// ErrRevocationsUnavailable while the copy is stale.
func (r *RevocationFollower) Check(c *Claims) error { return r.f.check(c) }

// CheckSession is Check for a gateway session rather than a token: its
// sid (the sid of the gateway tokens minted for it), its user and its
// creation time (unix s). It returns an error wrapping ErrRevoked when the
// session's sid is revoked, or its user or the application-wide cutoff was
// revoked more than a second after the second of its creation; one
// wrapping ErrRevokedNearCreation when such a revocation falls in that
// second or the next, where whole seconds and two replicas' clocks cannot
// tell which came first (a new login right after "log out everywhere"
// must pass: the caller asks its session store); and one wrapping
// ErrRevocationsUnavailable while the copy is stale, when authproxy relies
// on its session store alone.
func (r *RevocationFollower) CheckSession(sid, sub string, created int64) error {
	set, err := r.f.current()
	if err != nil {
		return err
	}
	why, near := set.sessionMatch(sid, sub, created)
	switch {
	case why != "":
		return verifyErr(ErrRevoked, errors.New(why))
	case near:
		return ErrRevokedNearCreation
	}
	return nil
}

// Fresh is nil while the copy is within its staleness bound.
func (r *RevocationFollower) Fresh() error { return r.f.fresh() }
