package app

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/shared/tracing"
)

// instrumentRedis gives every Redis command a span (named for the command,
// e.g. "hgetall"): without its arguments (keys hold session ids, values
// sealed sessions) and without the calling code's file and line.
func instrumentRedis(rdb redis.UniversalClient, t *tracing.Tracing) error {
	if !t.Enabled() {
		return nil
	}
	err := redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(t.Provider()),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
	)
	if err != nil {
		return fmt.Errorf("redis tracing: %w", err)
	}
	return nil
}

// tracedStore gives a decision's session load a span of its own; the
// Redis commands it runs (none on a cache hit) are its children.
type tracedStore struct {
	session.Store
	tracer trace.Tracer
}

func traceStore(s session.Store, t *tracing.Tracing) session.Store {
	if !t.Enabled() {
		return s
	}
	return tracedStore{Store: s, tracer: t.Tracer("github.com/gatewarden/gatewarden/authproxy/internal/session")}
}

func (s tracedStore) Load(ctx context.Context, cookie string) (*session.Session, error) {
	ctx, span := s.tracer.Start(ctx, "session.load")
	defer span.End()
	sess, err := s.Store.Load(ctx, cookie)
	if err != nil {
		// The sentinel's text (not found, expired, unavailable), never the cookie.
		span.SetStatus(codes.Error, err.Error())
	}
	return sess, err
}
