package tracetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/stack"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// OTLP span kinds as the JSON carries them.
const (
	kindInternal = 1
	kindServer   = 2
	kindClient   = 3
)

// collectorConfig: OTLP over HTTP in, every span as OTLP JSON lines out.
const collectorConfig = `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
exporters:
  file:
    path: %s
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
`

// startCollector runs the collector on a free port and returns its OTLP endpoint and the
// file it writes spans to.
func startCollector(t *testing.T) (endpoint, spansFile string) {
	t.Helper()
	dir := t.TempDir()
	port := testkit.FreePort(t)
	spansFile = filepath.Join(dir, "spans.jsonl")
	conf := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, collectorConfig, port, spansFile), 0o600); err != nil {
		t.Fatal(err)
	}
	var out testkit.LogBuffer
	cmd := exec.Command(otelcol, "--config=file:"+conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", out.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	testkit.WaitUntil(t, "the collector's OTLP receiver", 30*time.Second, func(ctx context.Context) error {
		select {
		case err := <-exited:
			return testkit.Abort(fmt.Errorf("collector exited: %v\n%s", err, out.String()))
		default:
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
	return "http://" + addr, spansFile
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestTraces: a login, then a role decision and the request it lets through to catalog, each
// carrying an ingress's traceparent, reach the collector as one trace with the expected spans
// and parent links; the log lines of that request carry its trace and span ids; no span holds
// a token, cookie, secret or query string.
func TestTraces(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not on PATH")
		}
		t.Skip("redis-server is not on PATH")
	}
	endpoint, spansFile := startCollector(t)
	// Every child process inherits these (the services take their service.name default).
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100") // ms: export soon after each request

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var logs testkit.LogBuffer
	st, err := stack.Start(ctx, stack.Options{
		Binaries: binaries, RepoRoot: repoRoot, Redis: stack.RedisServer, Output: &logs,
		// Without the in-process session cache the decision's session load reads Redis (the
		// login's write would otherwise leave the session in the cache for its 1 s).
		AuthProxyArgs: []string{"--session-cache-ttl=0"},
	})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	defer func() {
		_ = st.Close()
		if t.Failed() {
			t.Logf("stack output:\n%s", logs.String())
		}
	}()

	admin := adminUser(t)
	client, err := st.Login(ctx, admin)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	gw, err := url.Parse(st.GatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	cookies := client.Jar.Cookies(gw)

	// The ingress's span: a role decision (catalog-write needs admin) for DELETE of a product
	// that does not exist, asked as Traefik's ForwardAuth asks, then the request itself sent to
	// catalog with the token authproxy answered.
	traceID, ingressSpan := randomHex(t, 16), randomHex(t, 8)
	traceparent := "00-" + traceID + "-" + ingressSpan + "-01"
	const productPath = "/products/987654321"
	authz, err := http.NewRequestWithContext(ctx, http.MethodGet, st.AuthProxyURL+"/authz", nil)
	if err != nil {
		t.Fatal(err)
	}
	authz.Header.Set("Traceparent", traceparent)
	authz.Header.Set("X-Forwarded-Method", http.MethodDelete)
	authz.Header.Set("X-Forwarded-Proto", gw.Scheme)
	authz.Header.Set("X-Forwarded-Host", gw.Host)
	authz.Header.Set("X-Forwarded-Uri", productPath+"?secret-query=1")
	authz.Header.Set("X-Forwarded-For", "127.0.0.1")
	authz.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, c := range cookies {
		authz.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(authz)
	if err != nil {
		t.Fatalf("authz: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authz answered %d, want 200", resp.StatusCode)
	}
	bearer := resp.Header.Get("Authorization")
	token, ok := strings.CutPrefix(bearer, "Bearer ")
	if !ok || token == "" {
		t.Fatalf("authz answered Authorization %q, want a bearer token", bearer)
	}
	del, err := http.NewRequestWithContext(ctx, http.MethodDelete, st.CatalogURL+productPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	del.Header.Set("Traceparent", traceparent)
	del.Header.Set("Authorization", bearer)
	resp, err = http.DefaultClient.Do(del)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("catalog answered %d, want 404 (no such product)", resp.StatusCode)
	}

	// Wait for the collector to have written the whole trace.
	var spans []Span
	testkit.WaitUntil(t, "the decision's and catalog's spans in the collector's file", 30*time.Second, func(context.Context) error {
		all, err := ReadSpans(spansFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		spans = all
		for _, want := range []struct{ service, name string }{
			{"authproxy", "token.mint"}, {"catalog", "handler /products/:id"}, {"catalog", "DELETE /products/:id"},
			{"catalog", "db DELETE"},
			{"authproxy", "GET /oauth2/callback"}, {"devidp", "POST /oauth2/token"},
		} {
			if !slices.ContainsFunc(all, func(s Span) bool { return s.Service == want.service && s.Name == want.name }) {
				return fmt.Errorf("no %s span %q yet (%d spans: %s)", want.service, want.name, len(all), names(all))
			}
		}
		return nil
	})

	trace := filter(spans, func(s Span) bool { return s.TraceID == traceID })
	server := one(t, trace, "authproxy", "GET /authz")
	expect(t, server, kindServer, ingressSpan)
	decision := one(t, trace, "authproxy", "authproxy.decision")
	expect(t, decision, kindInternal, server.SpanID)
	if got := decision.Attr("gatewarden.rule"); got != `{"stringValue":"catalog-write"}` {
		t.Errorf("decision rule attribute %s, want catalog-write", got)
	}
	if got := decision.Attr("gatewarden.outcome"); got != `{"stringValue":"allow"}` {
		t.Errorf("decision outcome attribute %s, want allow", got)
	}
	load := one(t, trace, "authproxy", "session.load")
	expect(t, load, kindInternal, decision.SpanID)
	mint := one(t, trace, "authproxy", "token.mint")
	expect(t, mint, kindInternal, decision.SpanID)
	// Redis commands run in the decision (the session read, the idle-time touch) are client
	// spans under the decision, the read under the session load.
	redisSpans := filter(trace, func(s Span) bool { return s.Service == "authproxy" && s.Attr("db.system") != "" })
	if !slices.ContainsFunc(redisSpans, func(s Span) bool { return s.ParentSpanID == load.SpanID }) {
		t.Errorf("no Redis command under the session load (redis spans: %s)", names(redisSpans))
	}
	for _, s := range redisSpans {
		if s.Kind != kindClient || !descends(trace, s, decision.SpanID) {
			t.Errorf("redis span %q (kind %d) is not a client span under the decision", s.Name, s.Kind)
		}
	}

	service := one(t, trace, "catalog", "DELETE /products/:id")
	expect(t, service, kindServer, ingressSpan)
	verify := one(t, trace, "catalog", "jwtauth.verify")
	expect(t, verify, kindInternal, service.SpanID)
	handler := one(t, trace, "catalog", "handler /products/:id")
	expect(t, handler, kindInternal, service.SpanID)
	deleteSQL := one(t, trace, "catalog", "db DELETE")
	expect(t, deleteSQL, kindClient, handler.SpanID)

	// The login: the callback's span has the code exchange with the IdP as its client child.
	callback := filter(spans, func(s Span) bool { return s.Service == "authproxy" && s.Name == "GET /oauth2/callback" })
	if len(callback) != 1 {
		t.Fatalf("got %d callback spans, want 1", len(callback))
	}
	exchange := filter(spans, func(s Span) bool {
		return s.TraceID == callback[0].TraceID && s.ParentSpanID == callback[0].SpanID && s.Name == "HTTP POST"
	})
	if len(exchange) != 1 || exchange[0].Kind != kindClient {
		t.Fatalf("the callback has %d HTTP POST client children, want 1 (the code exchange)", len(exchange))
	}
	// The dev IdP continues the traceparent authproxy's client sent.
	idp := filter(spans, func(s Span) bool {
		return s.Service == "devidp" && s.TraceID == exchange[0].TraceID && s.ParentSpanID == exchange[0].SpanID
	})
	if len(idp) != 1 || idp[0].Name != "POST /oauth2/token" || idp[0].Kind != kindServer {
		t.Errorf("the code exchange has %d dev IdP children (%s), want the server span \"POST /oauth2/token\"", len(idp), names(idp))
	}

	checkNoSecrets(t, spansFile, cookies, token)
	catalogSpans := map[string]bool{}
	for _, s := range filter(trace, func(s Span) bool { return s.Service == "catalog" }) {
		catalogSpans[s.SpanID] = true
	}
	checkLogs(t, logs.String(), traceID, decision.SpanID, catalogSpans)
	t.Logf("redis spans in the decision: %d; spans in the file: %d", len(redisSpans), len(spans))
	// TRACETEST_SAVE keeps the collector's output (OTLP JSON lines) for a reader.
	if path := os.Getenv("TRACETEST_SAVE"); path != "" {
		raw, err := os.ReadFile(spansFile)
		if err == nil {
			err = os.WriteFile(path, raw, 0o644)
		}
		if err != nil {
			t.Errorf("save the collector's output: %v", err)
		}
		t.Logf("the role decision's trace id: %s", traceID)
	}
}

func adminUser(t *testing.T) stack.User {
	t.Helper()
	for _, u := range stack.DevUsers() {
		if slices.Contains(u.Roles, "admin") {
			return u
		}
	}
	t.Fatal("no dev user has the admin role")
	return stack.User{}
}

func filter(spans []Span, keep func(Span) bool) []Span {
	var out []Span
	for _, s := range spans {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only span of service named name, failing t otherwise.
func one(t *testing.T, spans []Span, service, name string) Span {
	t.Helper()
	got := filter(spans, func(s Span) bool { return s.Service == service && s.Name == name })
	if len(got) != 1 {
		var names []string
		for _, s := range spans {
			names = append(names, s.Service+":"+s.Name)
		}
		t.Fatalf("got %d %s spans %q in the trace, want 1; the trace has %q", len(got), service, name, names)
	}
	return got[0]
}

func expect(t *testing.T, s Span, kind int, parent string) {
	t.Helper()
	if s.Kind != kind || s.ParentSpanID != parent {
		t.Errorf("span %s:%q kind %d parent %s, want kind %d parent %s", s.Service, s.Name, s.Kind, s.ParentSpanID, kind, parent)
	}
}

// descends reports whether s is a descendant of the span with id ancestor.
func descends(spans []Span, s Span, ancestor string) bool {
	byID := map[string]Span{}
	for _, sp := range spans {
		byID[sp.SpanID] = sp
	}
	for range len(spans) {
		if s.ParentSpanID == ancestor {
			return true
		}
		p, ok := byID[s.ParentSpanID]
		if !ok {
			return false
		}
		s = p
	}
	return false
}

// checkNoSecrets reads the collector's whole output: no cookie value, token, client secret,
// Authorization header or query string in any span.
func checkNoSecrets(t *testing.T, spansFile string, cookies []*http.Cookie, token string) {
	t.Helper()
	raw, err := os.ReadFile(spansFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	secrets := map[string]string{"client secret": stack.ClientSecret, "gateway token": token}
	if parts := strings.Split(token, "."); len(parts) == 3 {
		secrets["gateway token signature"] = parts[2]
		secrets["gateway token payload"] = parts[1]
	}
	for _, c := range cookies {
		secrets["cookie "+c.Name] = c.Value
	}
	for what, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("the collector received the %s", what)
		}
	}
	for _, needle := range []string{"secret-query", "code=", "state=", "Bearer ", `"http.request.header.`, "?rd=", `"url.query"`} {
		if strings.Contains(text, needle) {
			t.Errorf("the collector received %q", needle)
		}
	}
}

// checkLogs: the decision's log line carries the trace id and the decision span's id, and
// catalog's lines of the request the trace id and the id of one of its spans in the trace.
func checkLogs(t *testing.T, output, traceID, decisionSpan string, catalogSpans map[string]bool) {
	t.Helper()
	var decision, service bool
	for line := range strings.Lines(output) {
		name, rest, ok := strings.Cut(line, "| ")
		if !ok || !strings.HasPrefix(rest, "{") {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(rest), &rec) != nil || rec["trace_id"] != traceID {
			continue
		}
		switch strings.TrimSpace(name) {
		case "authproxy":
			if rec["msg"] == "decision" {
				decision = rec["span_id"] == decisionSpan
			}
		case "catalog":
			if id, _ := rec["span_id"].(string); catalogSpans[id] {
				service = true
			}
		}
	}
	if !decision {
		t.Errorf("no authproxy decision log line with trace_id %s and span_id %s", traceID, decisionSpan)
	}
	if !service {
		t.Errorf("no catalog log line with trace_id %s and the id of one of its spans", traceID)
	}
}

// names lists service:name of spans, for failure messages.
func names(spans []Span) string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Service+":"+s.Name)
	}
	return strings.Join(out, ", ")
}
