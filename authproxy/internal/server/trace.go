package server

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatewarden/gatewarden/services/shared/tracing"
)

// Span names of the decision path (the session load, Redis commands and
// the IdP's HTTP calls have their own, made where those run).
const (
	spanDecision = "authproxy.decision"
	spanMint     = "token.mint"
)

// startDecisionSpan starts the decision's span as a child of r's (the
// server span, itself a child of the ingress's traceparent) and returns r
// with it. Tracing off, it returns r and nil: nothing is allocated.
func (s *Server) startDecisionSpan(r *http.Request) (*http.Request, trace.Span) {
	if s.tracer == nil {
		return r, nil
	}
	ctx, span := s.tracer.Start(r.Context(), spanDecision)
	return r.WithContext(ctx), span
}

// endDecisionSpan records the rule and outcome on the decision's span and
// ends it. A refusal (401, 403) is an answer, not an error; a store outage
// or an internal failure sets the error status, with the error's kind as
// the description (never its text, which may quote what the client sent).
func (s *Server) endDecisionSpan(span trace.Span, res result) {
	if span == nil {
		return
	}
	rule := ""
	if res.rule != nil {
		rule = res.rule.Name
	}
	outcome := outcomeOf(res.err)
	span.SetAttributes(tracing.AttrRule.String(rule), tracing.AttrOutcome.String(outcome))
	if outcome == outcomeUnavailable || outcome == outcomeError {
		span.SetStatus(codes.Error, outcome)
	}
	span.End()
}

// endMintSpan records a minting's audience and cache use on its span.
func endMintSpan(span trace.Span, aud string, hit bool, err error) {
	span.SetAttributes(attribute.String("gatewarden.audience", aud), tracing.AttrCacheHit.Bool(hit))
	if err != nil {
		span.SetStatus(codes.Error, "mint failed")
	}
}
