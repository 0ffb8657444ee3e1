package httpkit

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRecover: a panic becomes the answer's response and one error line
// with the request id, path, type and stack, never the panic's value;
// http.ErrAbortHandler keeps its meaning.
func TestRecover(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		value     any
		wantAbort bool
	}{
		{name: "string", value: "secret-token-eyJabc"},
		{name: "error", value: &Error{Status: 400, Code: "x", Message: "secret-token-eyJabc"}},
		{name: "abort handler", value: http.ErrAbortHandler, wantAbort: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			answer := func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "fixed", http.StatusTeapot) }
			h := RequestID(Recover(NewLogger(&logs, slog.LevelInfo), answer)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				panic(tt.value)
			})))
			req := httptest.NewRequest(http.MethodGet, "/p", nil)
			req.Header.Set(HeaderRequestID, "req-1")
			rec := httptest.NewRecorder()
			repanicked := func() (v any) {
				defer func() { v = recover() }()
				h.ServeHTTP(rec, req)
				return nil
			}()
			if tt.wantAbort {
				if repanicked != http.ErrAbortHandler { //nolint:errorlint // compared as net/http does
					t.Fatalf("recovered %v, want http.ErrAbortHandler panicked again", repanicked)
				}
				if logs.String() != "" {
					t.Errorf("abort logged: %s", logs.String())
				}
				return
			}
			if repanicked != nil {
				t.Fatalf("panic escaped: %v", repanicked)
			}
			if rec.Code != http.StatusTeapot || strings.TrimSpace(rec.Body.String()) != "fixed" {
				t.Errorf("answer %d %q, want the answer function's", rec.Code, rec.Body.String())
			}
			lines := logs.lines(t)
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1:\n%s", len(lines), logs.String())
			}
			l := lines[0]
			if l["msg"] != "panic" || l["level"] != "ERROR" || l[KeyRequestID] != "req-1" || l[KeyPath] != "/p" ||
				l[KeyPanicType] == "" || !strings.Contains(l[KeyStack].(string), "recover_test.go") {
				t.Errorf("panic line: %v", l)
			}
			if strings.Contains(logs.String(), "secret-token") {
				t.Errorf("panic value logged: %s", logs.String())
			}
		})
	}
}
