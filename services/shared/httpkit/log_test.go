package httpkit

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    slog.Level
		wantErr bool
	}{
		{name: "debug", in: "debug", want: slog.LevelDebug},
		{name: "upper info", in: "INFO", want: slog.LevelInfo},
		{name: "empty is info", in: "", want: slog.LevelInfo},
		{name: "warn", in: "warn", want: slog.LevelWarn},
		{name: "warning", in: " Warning ", want: slog.LevelWarn},
		{name: "error", in: "error", want: slog.LevelError},
		{name: "unknown", in: "verbose", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLevel(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadLevel) {
					t.Fatalf("ParseLevel(%q) err = %v, want ErrBadLevel", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

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
