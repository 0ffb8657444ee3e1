package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

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
		if version, body, err = f.build(ctx); err != nil {
			return err
		}
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
func (f *revocationFeed) build(ctx context.Context) (string, []byte, error) {
	revs, err := f.src.Revocations(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("%w: revocation feed: %w", ErrUnavailable, err)
	}
	doc := jwtauth.RevocationFeed{
		Version: revs.Version, Sessions: slices.Sorted(slices.Values(revs.Sessions)),
		Subjects: make([]jwtauth.RevokedSubject, 0, len(revs.Subjects)),
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
		return "", nil, fmt.Errorf("revocation feed: %w", err)
	}
	f.mu.Lock()
	f.version, f.body = doc.Version, body
	f.mu.Unlock()
	return doc.Version, body, nil
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
