package tracing

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatewarden/gatewarden/hack/testkit/spantest"
)

// recording is a Tracing whose spans land in memory.
func recording(t *testing.T) (*Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	tp, exp := spantest.New(t)
	return &Tracing{tp: tp, prop: propagation.TraceContext{}}, exp
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestEnabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{name: "nothing set", env: nil, want: false},
		{name: "service name only", env: map[string]string{"OTEL_SERVICE_NAME": "x"}, want: false},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, want: true},
		{name: "traces endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, want: true},
		{name: "disabled wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "TRUE"}, want: false},
		{name: "disabled false", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "false"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Enabled(env(tt.env)); got != tt.want {
				t.Errorf("Enabled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSetup(t *testing.T) {
	t.Parallel()
	t.Run("off returns pass-throughs", func(t *testing.T) {
		t.Parallel()
		tr, err := Setup(t.Context(), "svc", env(nil))
		if err != nil || tr != nil {
			t.Fatalf("Setup = %v, %v; want nil, nil", tr, err)
		}
		h := http.NotFoundHandler()
		if got := tr.Middleware(h); got == nil || tr.Enabled() {
			t.Fatal("off: Middleware must return the handler and Enabled false")
		}
		logger := slog.New(slog.DiscardHandler)
		if tr.Logger(logger) != logger || tr.Tracer("x") != nil || tr.Transport(http.DefaultTransport) != http.DefaultTransport {
			t.Error("off: Logger, Tracer and Transport must hand back what they got (nil tracer)")
		}
		c := &http.Client{}
		if tr.Client(c) != c {
			t.Error("off: Client must return the same client")
		}
		if err := tr.Shutdown(t.Context()); err != nil {
			t.Errorf("off: Shutdown = %v", err)
		}
	})
	t.Run("grpc protocol refused", func(t *testing.T) {
		t.Parallel()
		_, err := Setup(t.Context(), "svc", env(map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		}))
		if !errors.Is(err, ErrProtocol) {
			t.Fatalf("Setup = %v, want ErrProtocol", err)
		}
	})
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		tr, err := Setup(t.Context(), "svc", env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}))
		if err != nil || !tr.Enabled() || tr.Tracer("x") == nil || tr.Provider() == nil {
			t.Fatalf("Setup = %v, %v; want an enabled Tracing", tr, err)
		}
		// Nothing was recorded: shutdown has nothing to send to the (absent) collector.
		if err := tr.Shutdown(t.Context()); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	})
}

const (
	ingressTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	ingressSpan  = "00f067aa0ba902b7"
	secret       = "s3cr3t-token-value"
)

// TestMiddleware: the server span continues the caller's traceparent, is
// named for the route, and records nothing of the URL's query, the
// cookies or the Authorization header.
func TestMiddleware(t *testing.T) {
	t.Parallel()
	tr, exp := recording(t)
	var logs bytes.Buffer
	logger := tr.Logger(slog.New(slog.NewJSONHandler(&logs, nil)))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "handled")
		w.WriteHeader(http.StatusTeapot)
	})
	srv := httptest.NewServer(tr.Middleware(mux))
	defer srv.Close()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/items/7?code="+secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Traceparent", "00-"+ingressTrace+"-"+ingressSpan+"-01")
	req.Header.Set("Authorization", "Bearer "+secret)
	req.AddCookie(&http.Cookie{Name: "_gatewarden", Value: secret})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()

	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != "GET /items/{id}" || s.SpanKind != trace.SpanKindServer {
		t.Errorf("span %q kind %v, want \"GET /items/{id}\" server", s.Name, s.SpanKind)
	}
	if s.SpanContext.TraceID().String() != ingressTrace || s.Parent.SpanID().String() != ingressSpan {
		t.Errorf("trace %s parent %s, want %s %s", s.SpanContext.TraceID(), s.Parent.SpanID(), ingressTrace, ingressSpan)
	}
	var status int64
	for _, kv := range s.Attributes {
		if strings.Contains(kv.Value.Emit(), secret) || strings.Contains(kv.Value.Emit(), "?") {
			t.Errorf("attribute %s = %q leaks the request", kv.Key, kv.Value.Emit())
		}
		if kv.Key == "http.response.status_code" {
			status = kv.Value.AsInt64()
		}
	}
	if status != http.StatusTeapot {
		t.Errorf("status attribute %d, want %d", status, http.StatusTeapot)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", logs.String(), err)
	}
	if line[KeyTraceID] != ingressTrace || line[KeySpanID] != s.SpanContext.SpanID().String() {
		t.Errorf("log line ids %v %v, want %s %s", line[KeyTraceID], line[KeySpanID], ingressTrace, s.SpanContext.SpanID())
	}
}

// TestTransport: a client call inside a span is its child and carries the
// traceparent to the server it calls.
func TestTransport(t *testing.T) {
	t.Parallel()
	tr, exp := recording(t)
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Traceparent")
	}))
	defer srv.Close()
	ctx, parent := tr.Tracer("test").Start(t.Context(), "parent")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/jwks", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.Client(&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	parent.End()
	header := <-got
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	client := spans[0]
	if client.Name != "HTTP GET" || client.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("client span %q parent %s, want \"HTTP GET\" under %s", client.Name, client.Parent.SpanID(), parent.SpanContext().SpanID())
	}
	want := "00-" + parent.SpanContext().TraceID().String() + "-" + client.SpanContext.SpanID().String() + "-01"
	if header != want {
		t.Errorf("traceparent sent %q, want %q", header, want)
	}
}

func TestLogHandlerWithoutSpan(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("k", "v").WithGroup("g")
	logger.InfoContext(t.Context(), "no span", "a", 1)
	if strings.Contains(buf.String(), KeyTraceID) {
		t.Errorf("a record without a span got trace ids: %s", buf.String())
	}
}

func TestRouteOf(t *testing.T) {
	t.Parallel()
	for pattern, want := range map[string]string{"GET /a/{id}": "/a/{id}", "/authz": "/authz", "GET example.com/x": "example.com/x"} {
		if got := routeOf(pattern); got != want {
			t.Errorf("routeOf(%q) = %q, want %q", pattern, got, want)
		}
	}
}
