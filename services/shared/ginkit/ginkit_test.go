package ginkit

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

// newTestServer returns a server on 127.0.0.1 with NewEngine's defaults and
// a few routes, plus its log sink. The JSON handler serialises its writes;
// read the sink after closing the server, which waits for every handler.
func newTestServer(t *testing.T) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	logger := httpkit.NewLogger(&logs, slog.LevelDebug)
	r := NewEngine(logger)
	r.GET("/ok", func(c *gin.Context) {
		logger.InfoContext(c.Request.Context(), "handler line")
		c.JSON(http.StatusOK, gin.H{"ok": true})
	})
	r.GET("/bad", func(c *gin.Context) { WriteError(c, http.StatusBadRequest, "bad_limit", "limit must be positive") })
	r.GET("/panic", func(*gin.Context) { panic("boom") })
	r.GET("/id", func(c *gin.Context) {
		c.String(http.StatusOK, httpkit.RequestIDFrom(c.Request.Context())+"|"+httpkit.RequestIDFrom(c))
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, &logs
}

func TestJSONErrors(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t)
	tests := []struct {
		name   string
		method string
		path   string
		status int
		want   httpkit.ErrorResponse
	}{
		{name: "write error", method: http.MethodGet, path: "/bad", status: http.StatusBadRequest,
			want: httpkit.ErrorResponse{Error: "bad_limit", Message: "limit must be positive"}},
		{name: "no route", method: http.MethodGet, path: "/nope", status: http.StatusNotFound,
			want: httpkit.ErrorResponse{Error: httpkit.CodeNotFound, Message: "no such route"}},
		{name: "no method", method: http.MethodPost, path: "/ok", status: http.StatusMethodNotAllowed,
			want: httpkit.ErrorResponse{Error: httpkit.CodeMethodNotAllowed, Message: "method not allowed"}},
		{name: "panic", method: http.MethodGet, path: "/panic", status: http.StatusInternalServerError,
			want: httpkit.ErrorResponse{Error: httpkit.CodeInternal, Message: "internal error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			var got httpkit.ErrorResponse
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
}

func TestAccessLogIsJSONWithRequestIDAndNoSecrets(t *testing.T) {
	t.Parallel()
	srv, logs := newTestServer(t)
	const secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2ln"
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ok?access_token="+secret, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Cookie", "gw_session="+secret)
	req.Header.Set(httpkit.HeaderRequestID, "trace-42")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close() // waits for the handler and its deferred log line.

	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "c2VjcmV0") {
		t.Fatalf("token material in logs:\n%s", logs.String())
	}
	lines := logLines(t, logs)
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want handler line + access line:\n%s", len(lines), logs.String())
	}
	for _, l := range lines {
		if l[httpkit.KeyRequestID] != "trace-42" {
			t.Errorf("line without request id: %v", l)
		}
	}
	access := lines[1]
	want := map[string]any{httpkit.KeyMethod: "GET", httpkit.KeyPath: "/ok", httpkit.KeyRoute: "/ok", httpkit.KeyStatus: float64(200), httpkit.KeyRemoteIP: "127.0.0.1"}
	for k, v := range want {
		if access[k] != v {
			t.Errorf("access line %s = %v, want %v", k, access[k], v)
		}
	}
	if _, ok := access[httpkit.KeyDurationMS].(float64); !ok {
		t.Errorf("access line has no numeric %s: %v", httpkit.KeyDurationMS, access)
	}
}

func TestAccessLogIgnoresForwardedFor(t *testing.T) {
	t.Parallel()
	srv, logs := newTestServer(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ok", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close()
	lines := logLines(t, logs)
	if got := lines[len(lines)-1][httpkit.KeyRemoteIP]; got != "127.0.0.1" {
		t.Errorf("remote_ip = %v, want the peer 127.0.0.1 (no trusted proxies)", got)
	}
}

// logLines decodes every line of a JSON log as an object.
func logLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(logs.Bytes()))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("log is not JSON lines: %v\n%s", err, logs.String())
		}
		out = append(out, m)
	}
	return out
}

// TestRequestID: the gin adapter puts httpkit's id on the response, in the
// request's context and, through ContextWithFallback, in gin.Context.
func TestRequestID(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t)
	for _, tt := range []struct {
		name     string
		incoming string
		wantKeep bool
	}{
		{name: "absent"},
		{name: "sane kept", incoming: "req-1.A_b", wantKeep: true},
		{name: "log injection replaced", incoming: `x","level":"ERROR`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/id", nil)
			if tt.incoming != "" {
				req.Header.Set(httpkit.HeaderRequestID, tt.incoming)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			got := resp.Header.Get(httpkit.HeaderRequestID)
			if !httpkit.ValidRequestID(got) || body.String() != got+"|"+got {
				t.Errorf("response id %q, context ids %q", got, body.String())
			}
			if tt.wantKeep != (got == tt.incoming) {
				t.Errorf("id = %q, incoming %q, want kept: %v", got, tt.incoming, tt.wantKeep)
			}
		})
	}
}
