package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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
	Interval time.Duration // poll interval; 0 = DefaultRevocationInterval
	MaxStale time.Duration // 0 = DefaultRevocationMaxStale; at least Interval
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

// follower polls the feed and holds the last set read.
type follower struct {
	url      string
	interval time.Duration
	stale    time.Duration
	client   *http.Client
	now      func() time.Time
	logger   *slog.Logger

	set    atomic.Pointer[revocationSet]
	okAt   atomic.Int64 // unix nanoseconds of the last successful poll; 0 = none
	mu     sync.Mutex   // serialises polls
	failed bool         // the last poll failed (logged once per outage)
}

func newFollower(rc *RevocationConfig, client *http.Client, now func() time.Time, logger *slog.Logger) *follower {
	interval, stale := rc.durations()
	return &follower{url: rc.URL, interval: interval, stale: stale, client: client, now: now, logger: logger}
}

// run polls every interval until ctx ends.
func (f *follower) run(ctx context.Context) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.poll(ctx)
		}
	}
}

// poll fetches the feed once (conditionally on the version held) and
// logs the start and the end of an outage, not every failed poll.
func (f *follower) poll(ctx context.Context) {
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
}

func (f *follower) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.stale)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return fmt.Errorf("jwtauth: revocation feed: %w", err)
	}
	held := f.set.Load()
	if held != nil {
		req.Header.Set("If-None-Match", `"`+held.version+`"`)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwtauth: revocation feed: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && held != nil:
		f.okAt.Store(f.now().UnixNano())
		return nil
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("jwtauth: revocation feed: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxFeedSize+1))
	if err != nil {
		return fmt.Errorf("jwtauth: revocation feed: %w", err)
	}
	feed, err := ParseRevocationFeed(body)
	if err != nil {
		return err
	}
	f.set.Store(newRevocationSet(feed))
	f.okAt.Store(f.now().UnixNano())
	return nil
}

// check refuses c when the feed revokes it, or when the feed has not been
// read for longer than the staleness bound.
func (f *follower) check(c *Claims) error {
	set, ok := f.set.Load(), f.okAt.Load()
	if set == nil || ok == 0 || f.now().Sub(time.Unix(0, ok)) > f.stale {
		return fmt.Errorf("%w: not read for more than %s", ErrRevocationsUnavailable, f.stale)
	}
	if why := set.revoked(c); why != "" {
		return verifyErr(ErrRevoked, errors.New(why))
	}
	return nil
}

// ready is nil while the feed is fresh.
func (f *follower) ready() error {
	ok := f.okAt.Load()
	if ok == 0 || f.now().Sub(time.Unix(0, ok)) > f.stale {
		return fmt.Errorf("%w: %s not read for more than %s", ErrRevocationsUnavailable, f.url, f.stale)
	}
	return nil
}
