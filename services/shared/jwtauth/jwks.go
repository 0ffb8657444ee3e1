package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

const (
	// DefaultJWKSRefetch bounds refetches triggered by an unknown kid, per
	// issuer, unless IssuerConfig.JWKSRefetch says otherwise.
	DefaultJWKSRefetch = 30 * time.Second
	// notReadyRetry bounds the background retry interval while an issuer has
	// never loaded its keys.
	notReadyRetry = 5 * time.Second
	// fetchTimeout bounds one JWKS request.
	fetchTimeout = 10 * time.Second
	// maxJWKSSize bounds a JWKS response body.
	maxJWKSSize = 1 << 20
)

// jwksSource holds the last good key set fetched from one JWKS URL.
type jwksSource struct {
	issuer  string
	url     string
	allowed []string
	refresh time.Duration
	refetch time.Duration // least time between on-demand refetches
	client  *http.Client
	timeout time.Duration // bounds one fetch (fetchTimeout)
	logger  *slog.Logger
	now     func() time.Time
	onFetch func(issuer string, err error) // Config.OnJWKSFetch; may be nil
	tracer  trace.Tracer                   // nil: no spans

	keys atomic.Pointer[keySet] // nil until the first good fetch

	mu           sync.Mutex // serialises fetches; guards lastOnDemand, lastErr
	lastOnDemand time.Time
	lastErr      error // the last fetch's failure to reach the endpoint, or nil
}

// lookup returns the key for kid and alg, refetching the key set at most once
// per DefaultJWKSRefetch when the kid is unknown. It fails closed.
// A token without a kid, or a key without one, matches only when the set
// holds a single key for the token's alg (see keySet.only).
// A kid missing from a key set fetched just now (or by the last fetch, when
// the rate limit skips the refetch) is ErrUnknownKey; when that fetch could
// not reach the endpoint (network error, status other than 200) the key may
// well exist, so the error is ErrNotReady. A garbage answer keeps the last
// good key set and, like a good one, decides that the kid is unknown.
func (s *jwksSource) lookup(ctx context.Context, kid, alg string) (*key, error) {
	find := func(ks *keySet) (*key, bool) {
		if k, ok := ks.find(kid, alg); ok && kid != "" {
			return k, true
		}
		return ks.only(kid, alg)
	}
	if k, ok := find(s.keys.Load()); ok {
		return k, nil
	}
	fetchErr := s.refetchOnDemand(ctx)
	ks := s.keys.Load()
	if k, ok := find(ks); ok {
		return k, nil
	}
	if ks == nil {
		return nil, fmt.Errorf("%w: issuer %q", ErrNotReady, s.issuer)
	}
	if fetchErr != nil {
		return nil, fmt.Errorf("%w: issuer %q: no %s key with that kid and the key set could not be refetched: %w",
			ErrNotReady, s.issuer, alg, fetchErr)
	}
	if kid == "" {
		return nil, fmt.Errorf("%w: token has no kid and the key set has no single %s key", ErrUnknownKey, alg)
	}
	return nil, fmt.Errorf("%w: no %s key with that kid", ErrUnknownKey, alg)
}

// refetchOnDemand refetches unless an on-demand refetch happened within
// s.refetch. Concurrent callers wait for the fetch in progress. It returns
// its fetch's failure to reach the endpoint or, when the rate limit skips
// it, the last fetch's (nil when the endpoint answered).
func (s *jwksSource) refetchOnDemand(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.lastOnDemand.IsZero() && now.Sub(s.lastOnDemand) < s.refetch {
		return s.lastErr
	}
	s.lastOnDemand = now
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	if err := s.fetchLocked(ctx); err != nil {
		s.logger.WarnContext(ctx, "jwks refetch failed; keeping last good key set",
			attrIssuer, s.issuer, attrError, err.Error())
	}
	return s.lastErr
}

// fetch fetches the key set once (used at start and by the refresh loop).
func (s *jwksSource) fetch(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.fetchLocked(ctx)
}

// fetchLocked fetches and parses the key set, replacing the current one only
// on success, and records in s.lastErr whether the endpoint was reached.
// s.mu must be held.
func (s *jwksSource) fetchLocked(ctx context.Context) error {
	err := s.fetchOnce(ctx)
	if s.onFetch != nil {
		s.onFetch(s.issuer, err)
	}
	s.lastErr = nil
	if _, ok := errors.AsType[unreachableError](err); ok {
		s.lastErr = err
	}
	return err
}

// unreachableError marks a fetch that got no answer from the endpoint (a
// network error or a status other than 200), as opposed to a garbage one.
type unreachableError struct{ err error }

func (e unreachableError) Error() string { return e.err.Error() }
func (e unreachableError) Unwrap() error { return e.err }

// fetchKeys is fetchLocked without the bookkeeping (and fetchOnce without
// its span).
func (s *jwksSource) fetchKeys(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return fmt.Errorf("jwtauth: jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := s.client.Do(req)
	if err != nil {
		return unreachableError{fmt.Errorf("jwtauth: jwks: fetch: %w", err)}
	}
	defer resp.Body.Close()
	if req.URL.Scheme == "https" && resp.Request.URL.Scheme != "https" {
		// The client followed a redirect to plain http: anyone on the path
		// could have written this key set.
		return fmt.Errorf("jwtauth: jwks: fetch: redirected from https to %s", resp.Request.URL.Scheme)
	}
	if resp.StatusCode != http.StatusOK {
		return unreachableError{fmt.Errorf("jwtauth: jwks: fetch: status %d", resp.StatusCode)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return unreachableError{fmt.Errorf("jwtauth: jwks: read: %w", err)}
	}
	if len(body) > maxJWKSSize {
		return fmt.Errorf("jwtauth: jwks: response larger than %d bytes", maxJWKSSize)
	}
	keys, skipped, err := parseJWKS(body, s.allowed)
	if err != nil {
		return fmt.Errorf("jwtauth: jwks: %w", err)
	}
	s.keys.Store(&keySet{keys: s.keys.Load().carryOver(keys)})
	s.logger.DebugContext(ctx, "jwks loaded", attrIssuer, s.issuer, "keys", len(keys), "skipped", skipped)
	return nil
}

// run refreshes the key set every s.refresh (more often while it has never
// loaded) until ctx is done.
func (s *jwksSource) run(ctx context.Context) {
	for {
		wait := s.refresh
		if s.keys.Load() == nil {
			wait = min(wait, notReadyRetry)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := s.fetch(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "jwks refresh failed; keeping last good key set",
				attrIssuer, s.issuer, attrError, err.Error())
		}
	}
}

// ready reports whether a key set has been loaded.
func (s *jwksSource) ready() error {
	if s.keys.Load() == nil {
		return fmt.Errorf("%w: issuer %q: JWKS not loaded", ErrNotReady, s.issuer)
	}
	return nil
}
