package httpkit

import (
	"context"
	"io"
	"log/slog"
)

// Attribute keys used in log lines written by this package and its callers.
const (
	KeyRequestID  = "request_id"
	KeyMethod     = "method"
	KeyPath       = "path"
	KeyRoute      = "route"
	KeyStatus     = "status"
	KeyDurationMS = "duration_ms"
	KeyRemoteIP   = "remote_ip"
	KeyError      = "error"
	KeyAddr       = "addr"
	KeyPanicType  = "panic_type"
	KeyStack      = "stack"
)

// NewLogger returns a JSON logger writing to w at the given level. Records
// logged with a context (InfoContext, DebugContext, ...) that carries a
// request id (see RequestID) get a "request_id" attribute automatically.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(requestIDHandler{Handler: h})
}

// requestIDHandler adds the request id found in the record's context.
type requestIDHandler struct {
	slog.Handler
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" {
		r.AddAttrs(slog.String(KeyRequestID, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{Handler: h.Handler.WithGroup(name)}
}
