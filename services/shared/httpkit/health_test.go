package httpkit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	var ready atomic.Bool
	r := NewEngine(NewLogger(io.Discard, slog.LevelInfo))
	Health(func(context.Context) error {
		if !ready.Load() {
			return errors.New("keys not loaded from 10.0.0.7")
		}
		return nil
	}).Register(r)
	srv := httptest.NewServer(r)
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

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	mw, err := Metrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Metrics(reg); err == nil {
		t.Error("registering twice on one registry did not fail")
	}
	r := NewEngine(NewLogger(io.Discard, slog.LevelInfo))
	r.Use(mw)
	r.GET("/items/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	r.GET("/metrics", gin.WrapH(MetricsHandler(reg)))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for _, p := range []string{"/items/1", "/items/2", "/random/scan/path"} {
		resp, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := readAll(t, resp)
	for _, want := range []string{
		`http_requests_total{method="GET",route="/items/:id",status="204"} 2`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/items/:id"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "/random/scan/path") {
		t.Error("raw path used as a label")
	}
}
