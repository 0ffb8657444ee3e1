package httpkit

import (
	"context"
	"log/slog"
	"testing"
)

func TestNewLoggerAddsRequestIDFromContext(t *testing.T) {
	t.Parallel()
	var buf logBuffer
	logger := NewLogger(&buf, slog.LevelInfo).With("svc", "test")
	ctx := ContextWithRequestID(context.Background(), "abc-123")
	logger.InfoContext(ctx, "with id")
	logger.WithGroup("g").InfoContext(context.Background(), "without id", "k", "v")
	logger.DebugContext(ctx, "below level")

	lines := buf.lines(t)
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %s", len(lines), buf.String())
	}
	if lines[0][KeyRequestID] != "abc-123" || lines[0]["svc"] != "test" {
		t.Errorf("line 1 = %v, want request_id abc-123 and svc", lines[0])
	}
	if _, ok := lines[1][KeyRequestID]; ok {
		t.Errorf("line 2 has a request_id without one in the context: %v", lines[1])
	}
}
