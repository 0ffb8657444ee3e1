// Package spantest records OpenTelemetry spans in memory for tests: a
// tracer provider whose spans are exported synchronously, so a test reads
// them as soon as they end.
package spantest

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// New returns a tracer provider recording into the returned exporter,
// shut down when t ends. exp.GetSpans lists the ended spans, exp.Reset
// forgets them.
func New(t testing.TB) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}
