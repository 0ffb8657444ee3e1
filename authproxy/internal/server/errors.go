package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// Sentinel errors of the server. Handlers return errors; writeError is the
// one place that turns them into HTTP answers.
var (
	// ErrUnauthenticated: no valid credential for a rule that needs one.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: logged in, but the rule's roles are not held.
	ErrForbidden = errors.New("forbidden")
	// ErrNoRule: no route rule matches (deny by default).
	ErrNoRule = errors.New("no matching rule")
	// ErrUnavailable: a dependency (session store, IdP) is unreachable.
	ErrUnavailable = errors.New("service unavailable")
	// ErrBadRequest: the request is malformed (bad forwarded headers, path,
	// callback parameters, return URL).
	ErrBadRequest = errors.New("bad request")
	// ErrUntrustedPeer: forwarded headers from a peer outside the trusted
	// proxy networks.
	ErrUntrustedPeer = errors.New("untrusted peer")
	// ErrCSRF: a state-changing request failed the Origin check.
	ErrCSRF = errors.New("cross-site request refused")
	// ErrMethod: the method is not allowed on this endpoint.
	ErrMethod = errors.New("method not allowed")
	// ErrLoginFailed: the login could not be completed (state, code, PKCE,
	// nonce or id_token problems).
	ErrLoginFailed = errors.New("login failed")
	// ErrNotFound: no such endpoint.
	ErrNotFound = errors.New("not found")
)

// decisionError carries what an /authz refusal must tell the client.
type decisionError struct {
	err      error  // one of the sentinels
	rule     string // rule name ("" when none matched)
	anyOf    []string
	loginURL string // for ErrUnauthenticated
	redirect bool   // browser GET on a dialect that can redirect
	invalid  bool   // a bearer token was presented and refused
}

func (e *decisionError) Error() string { return e.err.Error() }
func (e *decisionError) Unwrap() error { return e.err }

// errorBody is every JSON error authproxy writes.
type errorBody struct {
	Error    string   `json:"error"`
	Message  string   `json:"message,omitempty"`
	Rule     string   `json:"rule,omitempty"`
	AnyOf    []string `json:"any_of,omitempty"`
	LoginURL string   `json:"login_url,omitempty"`
}

// errKind is the class of an error: it decides the answer a client gets
// and the outcome logs and metrics record. classify is the one place that
// finds an error's kind, writeError the one place that answers it.
type errKind uint8

const (
	kindInternal errKind = iota // anything classify does not recognise
	kindUnauthenticated
	kindForbidden
	kindNoRule
	kindUnavailable
	kindBadRequest
	kindUntrustedPeer
	kindCSRF
	kindMethod
	kindLoginFailed
	kindNotFound
	kindCanceled
	numKinds
)

// answer is how one kind looks to clients, logs and metrics. Messages are
// fixed texts: a client never sees an error's own text.
type answer struct {
	status        int
	code, outcome string
	message       string
}

// kinds holds each kind's sentinel and answer; classify tries the
// sentinels in this order, most specific first.
var kinds = [numKinds]struct {
	err error
	answer
}{
	kindInternal:        {errInternal, answer{http.StatusInternalServerError, "internal", outcomeError, "internal error"}},
	kindUnauthenticated: {ErrUnauthenticated, answer{http.StatusUnauthorized, "unauthenticated", outcomeUnauthenticated, "login required"}},
	kindForbidden:       {ErrForbidden, answer{http.StatusForbidden, "forbidden", outcomeForbidden, "the route rule refuses this request"}},
	kindNoRule:          {ErrNoRule, answer{http.StatusForbidden, "no_matching_rule", outcomeNoRule, "no route rule allows this request"}},
	kindUnavailable:     {ErrUnavailable, answer{http.StatusServiceUnavailable, "unavailable", outcomeUnavailable, "a backing service is unavailable; try again"}},
	kindBadRequest:      {ErrBadRequest, answer{http.StatusBadRequest, "bad_request", outcomeBadRequest, "malformed request"}},
	kindUntrustedPeer:   {ErrUntrustedPeer, answer{http.StatusForbidden, "untrusted_peer", outcomeUntrusted, "forwarded headers are only accepted from trusted proxies"}},
	kindCSRF:            {ErrCSRF, answer{http.StatusForbidden, "csrf", outcomeCrossSite, "cross-site request refused: a request that changes data must come from this site's own pages"}},
	kindMethod:          {ErrMethod, answer{http.StatusMethodNotAllowed, "method_not_allowed", outcomeError, "method not allowed"}},
	kindLoginFailed:     {ErrLoginFailed, answer{http.StatusBadRequest, "login_failed", outcomeError, "the login could not be completed; start again"}},
	kindNotFound:        {ErrNotFound, answer{http.StatusNotFound, "not_found", outcomeError, "not found"}},
	// The client went away before the answer (nobody reads it; 499 is
	// nginx's "client closed request"): not a failure of any dependency.
	kindCanceled: {errCanceled, answer{statusClientClosed, "canceled", outcomeCanceled, "the client closed the request"}},
}

// statusClientClosed is the status logged for a request its client
// abandoned (nginx's 499).
const statusClientClosed = 499

// errCanceled is kindCanceled's sentinel; classify also finds the kind from
// context.Canceled.
var errCanceled = errors.New("request canceled")

// answer returns how k looks to clients, logs and metrics.
func (k errKind) answer() answer { return kinds[k].answer }

// classify finds err's kind: the server's own sentinels first, then the
// errors of other packages, translated here so the mapping lives in one
// place.
func classify(err error) errKind {
	for k := kindInternal + 1; k < numKinds; k++ {
		if errors.Is(err, kinds[k].err) {
			return k
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		// Before the store's ErrUnavailable: a store call cut short by
		// the client's own cancellation says nothing about the store.
		return kindCanceled
	case errors.Is(err, forward.ErrUntrustedPeer):
		return kindUntrustedPeer
	case errors.Is(err, forward.ErrMalformed), errors.Is(err, policy.ErrInvalidPath):
		return kindBadRequest
	case errors.Is(err, session.ErrUnavailable), errors.Is(err, session.ErrLocked), errors.Is(err, oidc.ErrNotReady),
		errors.Is(err, oidc.ErrRefresh), errors.Is(err, context.DeadlineExceeded):
		return kindUnavailable
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrExpired), errors.Is(err, session.ErrMalformedCookie),
		errors.Is(err, oidc.ErrInvalidGrant), errors.Is(err, oidc.ErrAccessToken):
		return kindUnauthenticated
	case errors.Is(err, oidc.ErrNonce), errors.Is(err, oidc.ErrIDToken), errors.Is(err, oidc.ErrExchange):
		return kindLoginFailed
	}
	return kindInternal
}

// errInternal answers what classify does not recognise (and a panic).
var errInternal = errors.New("internal error")

// writeError is the single place where errors become HTTP responses.
func writeError(w http.ResponseWriter, err error, dialect string) {
	kind := classify(err)
	a := kind.answer()
	body := errorBody{Error: a.code, Message: a.message}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	var de *decisionError
	if errors.As(err, &de) {
		body.Rule = de.rule
		switch kind {
		case kindForbidden:
			if len(de.anyOf) > 0 {
				body.AnyOf = de.anyOf
				body.Message = fmt.Sprintf("rule %q requires one of the roles: %s", de.rule, strings.Join(de.anyOf, ", "))
			}
		case kindUnauthenticated:
			body.LoginURL = de.loginURL
			if de.redirect {
				h.Set("Location", de.loginURL)
				w.WriteHeader(http.StatusFound)
				return
			}
			if dialect == dialectNginx {
				h.Set(HeaderLoginURL, de.loginURL)
			}
			wa := `Bearer realm="gatewarden"`
			if de.invalid {
				wa += `, error="invalid_token"`
			}
			h.Set("WWW-Authenticate", wa)
		}
	}
	writeJSON(w, a.status, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
