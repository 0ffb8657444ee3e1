// Package tracing is gatewarden's OpenTelemetry setup, shared by authproxy,
// the services and the dev IdP (net/http only). It is off unless an OTLP
// endpoint variable is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_SDK_DISABLED is not "true";
// everything else is the SDK's own standard OTEL_* variables
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and its
// argument, OTEL_BSP_*, OTEL_EXPORTER_OTLP_HEADERS, ...). Spans are exported
// with OTLP over HTTP (protobuf), the specification's default protocol.
//
// Off, every helper hands back what it was given (the handler, the
// transport, the logger) or a nil tracer, so callers pay nothing. On, the
// server middleware continues a W3C traceparent from the caller, the client
// transport sends one on, and the log handler adds trace_id and span_id to
// every record logged with the request's context.
//
// Span names and attributes never carry a query string, a header value, a
// cookie or a token: the middleware records the method, the route pattern
// and the status only, and the client transport the method, host and path.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys added to records logged within a span.
const (
	KeyTraceID = "trace_id"
	KeySpanID  = "span_id"
)

// Span attribute keys of gatewarden's own spans.
const (
	AttrRule     = attribute.Key("gatewarden.rule")
	AttrOutcome  = attribute.Key("gatewarden.outcome")
	AttrCacheHit = attribute.Key("gatewarden.cache_hit")
)

// ErrProtocol is returned by Setup for an OTLP protocol other than
// http/protobuf.
var ErrProtocol = errors.New("tracing: only the http/protobuf OTLP protocol is supported")

// Tracing is the process's tracer provider; the zero value and nil are off.
type Tracing struct {
	tp   *sdktrace.TracerProvider
	prop propagation.TextMapPropagator
}

// Enabled reports whether Setup found tracing configured.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup builds the tracer provider when Enabled(getenv), with service as
// the service.name unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES)
// names another. Off, it returns a nil *Tracing, whose methods are no-ops.
// The exporter and the SDK read their OTEL_* settings from the process
// environment.
func Setup(ctx context.Context, service string, getenv func(string) string) (*Tracing, error) {
	if !Enabled(getenv) {
		return nil, nil
	}
	proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		return nil, fmt.Errorf("%w (got %q)", ErrProtocol, proto)
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: exporter: %w", err)
	}
	// Later sources win: the default name, then the environment.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(service)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	// No sampler option: the SDK reads OTEL_TRACES_SAMPLER(_ARG), default
	// parentbased_always_on.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{tp: tp, prop: propagation.TraceContext{}}, nil
}

// Enabled reports whether t exports spans.
func (t *Tracing) Enabled() bool { return t != nil && t.tp != nil }

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// ShutdownTimeout bounds Close's flush.
const ShutdownTimeout = 5 * time.Second

// Close is Shutdown for a main's defer: it flushes for at most
// ShutdownTimeout and logs a failure to logger.
func (t *Tracing) Close(logger *slog.Logger) {
	if !t.Enabled() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		logger.Warn("tracing shutdown", slog.String("error", err.Error()))
	}
}

// Provider is the tracer provider, nil when off (for instrumentation
// libraries that take one).
func (t *Tracing) Provider() trace.TracerProvider {
	if !t.Enabled() {
		return nil
	}
	return t.tp
}

// Tracer returns a tracer named for the instrumented package, or nil when
// off: callers start spans only behind a nil check, so a disabled process
// allocates nothing for them.
func (t *Tracing) Tracer(name string) trace.Tracer {
	if !t.Enabled() {
		return nil
	}
	return t.tp.Tracer(name)
}

// Middleware returns next wrapped in a server span that continues the
// caller's W3C traceparent. The span is named "METHOD pattern" from the
// request's ServeMux pattern once next has run (the method alone before),
// and records the method, the route and the status code: no URL, no query,
// no header. Off, next is returned as it is.
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	if !t.Enabled() {
		return next
	}
	tracer := t.tp.Tracer("github.com/gatewarden/gatewarden/services/shared/tracing")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(ctx)
		next.ServeHTTP(sw, r)
		if r.Pattern != "" {
			span.SetName(r.Method + " " + routeOf(r.Pattern))
			span.SetAttributes(semconv.HTTPRoute(routeOf(r.Pattern)))
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// routeOf is a ServeMux pattern without its method ("GET /x" -> "/x").
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return strings.TrimSpace(pattern[i+1:])
	}
	return pattern
}

// NameRoute wraps a ServeMux that sits behind handlers which copy the
// request (r.WithContext), where Middleware cannot see the pattern the mux
// matched: once mux has run, the server span takes the pattern's name.
func NameRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		SetRoute(r.Context(), r.Method, routeOf(r.Pattern))
	})
}

// SetRoute names the server span of r's context after route, for routers
// that are not a ServeMux (gin's FullPath). Off, or outside a span, it does
// nothing.
func SetRoute(ctx context.Context, method, route string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() || route == "" {
		return
	}
	span.SetName(method + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route))
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush on (http.ResponseController finds it through Unwrap
// too; this keeps the plain http.Flusher assertion working).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Transport returns rt (nil = http.DefaultTransport) wrapped in client
// spans that send the W3C traceparent on. Spans are named "HTTP METHOD"
// and carry the method, the server address and the URL without its query
// (otelhttp strips user info; gatewarden's IdP and JWKS URLs have no
// query). Off, rt is returned as it is.
func (t *Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	if !t.Enabled() {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return otelhttp.NewTransport(rt,
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "HTTP " + r.Method }),
	)
}

// Client returns c with its transport wrapped by Transport (c itself when
// off; a copy otherwise).
func (t *Tracing) Client(c *http.Client) *http.Client {
	if !t.Enabled() || c == nil {
		return c
	}
	cp := *c
	cp.Transport = t.Transport(c.Transport)
	return &cp
}

// Logger returns l with trace_id and span_id added to every record logged
// with a context that holds a span. Off, l is returned as it is.
func (t *Tracing) Logger(l *slog.Logger) *slog.Logger {
	if !t.Enabled() || l == nil {
		return l
	}
	return slog.New(LogHandler(l.Handler()))
}

// LogHandler wraps h: a record whose context holds a valid span context
// gets trace_id and span_id attributes (hex, as the collector shows them).
func LogHandler(h slog.Handler) slog.Handler { return logHandler{Handler: h} }

type logHandler struct {
	slog.Handler
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String(KeyTraceID, sc.TraceID().String()), slog.String(KeySpanID, sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{Handler: h.Handler.WithGroup(name)}
}
