package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// FeedPath serves the revocation feed (jwtauth.RevocationFeed) that the
// services' verifiers follow.
const FeedPath = "/revocations"

// Revocations is the revocation store the feed reads; *session.RedisStore
// implements it.
type Revocations interface {
	// RevocationVersion is the revocations' version, one cheap read.
	RevocationVersion(ctx context.Context) (string, error)
	// Revocations reads every unexpired revocation with its version.
	Revocations(ctx context.Context) (*session.Revocations, error)
}

// emptyFeedVersion is the version of the feed before any revocation.
const emptyFeedVersion = "0"

// revocationFeed serves the feed from Redis, shared by every replica. A
// poll costs one small read (the version); the document is rebuilt only
// when the version moved, and a follower that holds the version gets 304.
type revocationFeed struct {
	src Revocations

	mu      sync.Mutex
	version string // of body; "" = nothing cached
	body    []byte
	doc     *jwtauth.RevocationFeed // body, decoded
}

// RevocationFeed implements jwtauth.RevocationSource on the store, for
// authproxy's own copy of the revocations (bearer access tokens): one
// version read per poll, the document only when it moved. Built documents
// are shared with the feed's answers.
func (f *revocationFeed) RevocationFeed(ctx context.Context, held string) (*jwtauth.RevocationFeed, error) {
	version, err := f.src.RevocationVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: revocation feed: %w", ErrUnavailable, err)
	}
	if version == "" {
		version = emptyFeedVersion
	}
	if version == held {
		return nil, nil
	}
	f.mu.Lock()
	doc, cached := f.doc, f.version
	f.mu.Unlock()
	if cached == version {
		return doc, nil
	}
	doc, _, err = f.build(ctx)
	return doc, err
}

func (f *revocationFeed) serve(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	version, err := f.src.RevocationVersion(ctx)
	if err != nil {
		return fmt.Errorf("%w: revocation feed: %w", ErrUnavailable, err)
	}
	if version == "" {
		version = emptyFeedVersion
	}
	f.mu.Lock()
	body, held := f.body, f.version
	f.mu.Unlock()
	if held != version {
		var doc *jwtauth.RevocationFeed
		if doc, body, err = f.build(ctx); err != nil {
			return err
		}
		version = doc.Version
	}
	etag := `"` + version + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
	return nil
}

// build reads the revocations and renders and caches their document.
func (f *revocationFeed) build(ctx context.Context) (*jwtauth.RevocationFeed, []byte, error) {
	revs, err := f.src.Revocations(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: revocation feed: %w", ErrUnavailable, err)
	}
	doc := jwtauth.RevocationFeed{
		Version: revs.Version, Sessions: slices.Sorted(slices.Values(revs.Sessions)),
		Subjects: make([]jwtauth.RevokedSubject, 0, len(revs.Subjects)), Cutoff: revs.Cutoff,
	}
	if doc.Version == "" {
		doc.Version = emptyFeedVersion
	}
	if doc.Sessions == nil {
		doc.Sessions = []string{}
	}
	for sub, iat := range revs.Subjects {
		doc.Subjects = append(doc.Subjects, jwtauth.RevokedSubject{Subject: sub, IssuedAtMax: iat})
	}
	slices.SortFunc(doc.Subjects, func(a, b jwtauth.RevokedSubject) int { return strings.Compare(a.Subject, b.Subject) })
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("revocation feed: %w", err)
	}
	f.mu.Lock()
	f.version, f.body, f.doc = doc.Version, body, &doc
	f.mu.Unlock()
	return &doc, body, nil
}

// WatchRevocations keeps authproxy's own copy of the revocations, read from
// the store every second, until ctx ends; bearer access tokens are checked
// against it (credential). Package app starts it. Without a revocation
// store it returns at once.
func (s *Server) WatchRevocations(ctx context.Context) {
	if s.revoked != nil {
		s.revoked.Run(ctx)
	}
}

// etagMatch reports whether an If-None-Match header lists etag (or is *).
func etagMatch(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}

// checkRevoked refuses a bearer access token that authproxy's copy of the
// revocations revokes (its sid, its subject up to its iat, or the
// application-wide cutoff), as the services do: a revoked one is an
// invalid access token (401), and while the copy is stale every one is
// refused (503; fail safe), so that a revoked access token cannot be
// swapped for a fresh gateway token.
func (s *Server) checkRevoked(ctx context.Context, c *jwtauth.Claims) error {
	if s.revoked == nil {
		return nil
	}
	err := s.revoked.Check(c)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwtauth.ErrRevocationsUnavailable):
		s.log.DebugContext(ctx, "bearer token refused", slog.String(keyError, err.Error()))
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		s.log.WarnContext(ctx, "bearer token refused", slog.String(keyError, err.Error()))
		return fmt.Errorf("%w: %w", oidc.ErrAccessToken, err)
	}
}

// checkSessionRevoked refuses a session that the store still served but
// authproxy's copy of the revocations names (its sid, or its user or the
// application-wide cutoff after its creation): the entry of a session
// cache that missed the invalidation on pub/sub. It bounds how long a
// revoked session lives in any replica's cache by the copy's poll interval
// (1 s), whatever --session-cache-ttl is and whether or not pub/sub
// delivered. A revocation within a second of the session's creation cannot
// be ordered from whole seconds (a new login right after "log out
// everywhere" must pass): the store, read past any cache, decides; it
// holds the session only if the revocation did not delete it. While the
// copy is stale the store's answer stands (the cache's own subscription
// check bypasses it when pub/sub is down).
func (s *Server) checkSessionRevoked(ctx context.Context, cookie, sid string, sess *session.Session) error {
	if s.revoked == nil {
		return nil
	}
	err := s.revoked.CheckSession(sid, sess.UserID, sess.CreatedAt.Unix())
	switch {
	case err == nil, errors.Is(err, jwtauth.ErrRevocationsUnavailable):
		return nil
	case errors.Is(err, jwtauth.ErrRevokedNearCreation):
		if _, ferr := s.fresh.Load(ctx, cookie); ferr != nil {
			s.metrics.storeErr("load", ferr)
			return ferr
		}
		return nil
	}
	s.log.WarnContext(ctx, "revoked session refused", slog.String(keySubject, sess.UserID), slog.String(keyError, err.Error()))
	return fmt.Errorf("%w: %w", ErrUnauthenticated, err)
}
