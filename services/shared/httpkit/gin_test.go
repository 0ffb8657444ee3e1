package httpkit

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
)

// newTestServer returns a server on 127.0.0.1 with NewEngine's defaults and
// a few routes, plus its log sink.
func newTestServer(t *testing.T) (*httptest.Server, *logBuffer) {
	t.Helper()
	var logs logBuffer
	logger := NewLogger(&logs, slog.LevelDebug)
	r := NewEngine(logger)
	r.GET("/ok", func(c *gin.Context) {
		logger.InfoContext(c.Request.Context(), "handler line")
		c.JSON(http.StatusOK, gin.H{"ok": true})
	})
	r.GET("/bad", func(c *gin.Context) { WriteError(c, http.StatusBadRequest, "bad_limit", "limit must be positive") })
	r.GET("/panic", func(*gin.Context) { panic("boom") })
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
		want   ErrorResponse
	}{
		{name: "write error", method: http.MethodGet, path: "/bad", status: http.StatusBadRequest,
			want: ErrorResponse{Error: "bad_limit", Message: "limit must be positive"}},
		{name: "no route", method: http.MethodGet, path: "/nope", status: http.StatusNotFound,
			want: ErrorResponse{Error: CodeNotFound, Message: "no such route"}},
		{name: "no method", method: http.MethodPost, path: "/ok", status: http.StatusMethodNotAllowed,
			want: ErrorResponse{Error: CodeMethodNotAllowed, Message: "method not allowed"}},
		{name: "panic", method: http.MethodGet, path: "/panic", status: http.StatusInternalServerError,
			want: ErrorResponse{Error: CodeInternal, Message: "internal error"}},
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
			var got ErrorResponse
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
	req.Header.Set(HeaderRequestID, "trace-42")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close() // waits for the handler and its deferred log line.

	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "c2VjcmV0") {
		t.Fatalf("token material in logs:\n%s", logs.String())
	}
	lines := logs.lines(t)
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want handler line + access line:\n%s", len(lines), logs.String())
	}
	for _, l := range lines {
		if l[KeyRequestID] != "trace-42" {
			t.Errorf("line without request id: %v", l)
		}
	}
	access := lines[1]
	want := map[string]any{KeyMethod: "GET", KeyPath: "/ok", KeyRoute: "/ok", KeyStatus: float64(200), KeyRemoteIP: "127.0.0.1"}
	for k, v := range want {
		if access[k] != v {
			t.Errorf("access line %s = %v, want %v", k, access[k], v)
		}
	}
	if _, ok := access[KeyDurationMS].(float64); !ok {
		t.Errorf("access line has no numeric %s: %v", KeyDurationMS, access)
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
	lines := logs.lines(t)
	if got := lines[len(lines)-1][KeyRemoteIP]; got != "127.0.0.1" {
		t.Errorf("remote_ip = %v, want the peer 127.0.0.1 (no trusted proxies)", got)
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{in: "1", want: 1, ok: true},
		{in: "42", want: 42, ok: true},
		{in: "999999999999999999", want: 999999999999999999, ok: true},
		{in: "1000000000000000000"},
		{in: "0"},
		{in: "01"},
		{in: "-1"},
		{in: "+1"},
		{in: " 1"},
		{in: "1x"},
		{in: "abc"},
		{in: ""},
		{in: "1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseID(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("ParseID(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadID) {
				t.Fatalf("err = %v, want ErrBadID", err)
			}
		})
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "01", "-5", "99999999999999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseID(s)
		if err != nil {
			return
		}
		if n <= 0 || strconv.FormatInt(n, 10) != s {
			t.Fatalf("ParseID(%q) = %d: not canonical", s, n)
		}
	})
}
