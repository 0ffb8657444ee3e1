package jwtauth

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span names (Config.Tracer).
const (
	spanVerify    = "jwtauth.verify"
	spanJWKSFetch = "jwtauth.jwks_fetch"
)

// verifyTraced is Verify in a span. A refusal sets the error status with
// the error's text, which never holds the token (see Verify).
func (v *Verifier) verifyTraced(ctx context.Context, token string) (*Claims, error) {
	ctx, span := v.tracer.Start(ctx, spanVerify)
	defer span.End()
	claims, err := v.verifyUnrevoked(ctx, token)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	span.SetAttributes(attribute.String("jwt.issuer", claims.Issuer))
	return claims, nil
}

// fetchOnce fetches the key set once, in a span when a tracer is set (a
// child of the request whose unknown kid triggered it, or a root span for
// the background refresh).
func (s *jwksSource) fetchOnce(ctx context.Context) error {
	if s.tracer == nil {
		return s.fetchKeys(ctx)
	}
	ctx, span := s.tracer.Start(ctx, spanJWKSFetch, trace.WithAttributes(attribute.String("jwt.issuer", s.issuer)))
	defer span.End()
	err := s.fetchKeys(ctx)
	if err != nil {
		var unreachable unreachableError
		span.SetAttributes(attribute.Bool("jwks.unreachable", errors.As(err, &unreachable)))
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}
