package httpkit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	var ready atomic.Bool
	h := Health(func(context.Context) error {
		if !ready.Load() {
			return errors.New("keys not loaded from 10.0.0.7")
		}
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", h.Healthz)
	mux.Handle("GET /readyz", h.Readyz)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	get := func(path string) (int, string) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, readAll(t, resp)
	}
	tests := []struct {
		name   string
		ready  bool
		path   string
		status int
		body   string
	}{
		{name: "healthz while not ready", path: "/healthz", status: http.StatusOK, body: `{"status":"ok"}`},
		{name: "readyz while not ready", path: "/readyz", status: http.StatusServiceUnavailable, body: `{"status":"unavailable"}`},
		{name: "readyz when ready", ready: true, path: "/readyz", status: http.StatusOK, body: `{"status":"ok"}`},
	}
	for _, tt := range tests { // sequential: they share the ready flag
		ready.Store(tt.ready)
		status, body := get(tt.path)
		if status != tt.status || strings.TrimSpace(body) != tt.body {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.body)
		}
		if strings.Contains(body, "10.0.0.7") {
			t.Errorf("%s: readiness error leaked: %s", tt.name, body)
		}
	}
}

func TestHealthNilReady(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	Health(nil).Readyz.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
}
