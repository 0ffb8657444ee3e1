package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

// TestPanicIsInternalError: a panicking handler answers 500 with the fixed
// JSON body (never the panic's text), and the panic is logged with the
// request id.
func TestPanicIsInternalError(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := &Server{log: httpkit.NewLogger(&logs, slog.LevelInfo)}
	h := s.guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret-token-eyJabc")
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/authz", nil)
	req.Header.Set(httpkit.HeaderRequestID, "req-1")
	resp, body := send(t, req)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500: %s", resp.StatusCode, body)
	}
	want := map[string]any{"error": "internal", "message": "internal error"}
	if d := cmp.Diff(want, decodeJSON(t, body)); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get(httpkit.HeaderRequestID) != "req-1" {
		t.Errorf("headers %v", resp.Header)
	}
	if l := logs.String(); !strings.Contains(l, `"msg":"panic"`) || !strings.Contains(l, `"request_id":"req-1"`) || strings.Contains(l, "secret-token") {
		t.Errorf("panic log line: %s", l)
	}
}

// TestHTTPServerTimeouts: the server authproxy is served with bounds every slow
// or idle client, and its write timeout leaves room for a refresh waiting on the lock.
func TestHTTPServerTimeouts(t *testing.T) {
	t.Parallel()
	hs := httpkit.NewServer(http.NotFoundHandler(), nil)
	if hs.ReadHeaderTimeout <= 0 || hs.ReadTimeout <= 0 || hs.IdleTimeout <= 0 || hs.MaxHeaderBytes <= 0 {
		t.Errorf("unbounded server: %+v", hs)
	}
	if hs.WriteTimeout <= lockWait {
		t.Errorf("write timeout %s does not cover the lock wait %s", hs.WriteTimeout, lockWait)
	}
}
