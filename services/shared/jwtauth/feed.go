package jwtauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/golang-jwt/jwt/v5"
)

// MaxFeedSize bounds a revocation feed document. At about 60 bytes an
// entry it holds some 250,000 revocations within one retention period.
const MaxFeedSize = 16 << 20

// RevocationFeed is the revocation feed document authproxy serves (GET
// /revocations) and a Verifier follows (Config.Revocations): every
// revocation whose tokens may still be valid.
type RevocationFeed struct {
	// Version changes whenever the content does; it is also the answer's
	// ETag, so a follower polling with If-None-Match gets 304 meanwhile.
	Version string `json:"version"`
	// Sessions are revoked session ids: a token whose `sid` claim is one
	// of them is refused (authproxy's gateway-token sid, and FusionAuth's
	// access-token sid, its refresh token's id).
	Sessions []string `json:"sessions"`
	// Subjects are users whose every token issued until a time is revoked.
	Subjects []RevokedSubject `json:"subjects"`
	// Cutoff, when set (unix seconds), revokes every token whose `iat` is
	// at most it, whatever its subject, except authproxy's anonymous
	// gateway tokens (sub anonymous, no sid): the identity provider
	// revoked every refresh token of the application. Omitted when none.
	Cutoff int64 `json:"cutoff,omitempty"`
}

// RevokedSubject revokes every token of Subject whose `iat` is at most
// IssuedAtMax (unix seconds). A token without iat counts as issued before.
type RevokedSubject struct {
	Subject     string `json:"sub"`
	IssuedAtMax int64  `json:"iat_max"`
}

// ParseRevocationFeed decodes a feed document strictly: one JSON object
// of at most MaxFeedSize bytes with no unknown member and nothing after
// it, a version, no empty session id or subject, no negative cutoff.
func ParseRevocationFeed(b []byte) (*RevocationFeed, error) {
	if len(b) > MaxFeedSize {
		return nil, fmt.Errorf("jwtauth: revocation feed: larger than %d bytes", MaxFeedSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f RevocationFeed
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("jwtauth: revocation feed: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("jwtauth: revocation feed: data after the document")
	}
	if f.Version == "" {
		return nil, errors.New("jwtauth: revocation feed: no version")
	}
	if f.Cutoff < 0 {
		return nil, errors.New("jwtauth: revocation feed: negative cutoff")
	}
	for _, s := range f.Sessions {
		if s == "" {
			return nil, errors.New("jwtauth: revocation feed: empty session id")
		}
	}
	for _, s := range f.Subjects {
		if s.Subject == "" {
			return nil, errors.New("jwtauth: revocation feed: empty subject")
		}
	}
	return &f, nil
}

// revocationSet is a parsed feed, ready for lookups.
type revocationSet struct {
	version  string
	sessions map[string]struct{}
	subjects map[string]int64 // sub -> largest iat_max
	cutoff   int64            // unix s; 0 = none
}

func newRevocationSet(f *RevocationFeed) *revocationSet {
	s := &revocationSet{
		version:  f.Version,
		sessions: make(map[string]struct{}, len(f.Sessions)),
		subjects: make(map[string]int64, len(f.Subjects)),
		cutoff:   f.Cutoff,
	}
	for _, id := range f.Sessions {
		s.sessions[id] = struct{}{}
	}
	for _, r := range f.Subjects {
		if old, ok := s.subjects[r.Subject]; !ok || r.IssuedAtMax > old {
			s.subjects[r.Subject] = r.IssuedAtMax
		}
	}
	return s
}

// revoked reports why c is revoked ("" when it is not). The subject and
// cutoff rules compare the earlier of iat and orig_iat (see issuedAt).
func (s *revocationSet) revoked(c *Claims) string {
	iat, known := issuedAt(c)
	return s.match(c.SessionID, c.Subject, iat, known)
}

// match is revoked for a session id, a subject and an issue time (unix s;
// known false: issued before any revocation).
func (s *revocationSet) match(sid, sub string, iat int64, known bool) string {
	if sid != "" {
		if _, ok := s.sessions[sid]; ok {
			return "session revoked"
		}
	}
	if last, ok := s.subjects[sub]; ok && (!known || iat <= last) {
		return "subject revoked"
	}
	if s.cutoff > 0 && (!known || iat <= s.cutoff) && !(sub == AnonymousSubject && sid == "") {
		return "application-wide revocation"
	}
	return ""
}

// sessionMatch is match for a session created at created (unix s): its
// sid, or a revocation of its user or the application-wide cutoff in a
// later second than the one after its creation. A revocation in the second
// of its creation or the one after is near: whole seconds (and two
// replicas' clocks) cannot tell whether it came first.
func (s *revocationSet) sessionMatch(sid, sub string, created int64) (why string, near bool) {
	if _, ok := s.sessions[sid]; ok && sid != "" {
		return "session revoked", false
	}
	for _, r := range []struct {
		at  int64
		why string
	}{{s.subjects[sub], "subject revoked"}, {s.cutoff, "application-wide revocation"}} {
		switch {
		case r.at <= 0:
		case created < r.at-1:
			return r.why, false
		case created <= r.at:
			near = true
		}
	}
	return "", near
}

// issuedAt is the earlier of c's iat and orig_iat (the iat of the access
// token a gateway token was minted from), in unix seconds; known is false
// when c carries neither, and such a token counts as issued before any
// revocation.
func issuedAt(c *Claims) (iat int64, known bool) {
	for _, d := range []*jwt.NumericDate{c.IssuedAt, c.OrigIssuedAt} {
		if d != nil && (!known || d.Unix() < iat) {
			iat, known = d.Unix(), true
		}
	}
	return iat, known
}
