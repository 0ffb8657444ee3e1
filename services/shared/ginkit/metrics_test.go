package ginkit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

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
	r := NewEngine(httpkit.NewLogger(io.Discard, slog.LevelInfo))
	r.Use(mw)
	r.GET("/items/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	r.GET("/metrics", gin.WrapH(httpkit.MetricsHandler(reg)))
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
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
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

// TestRegisterHealth: GET and HEAD of both probes reach httpkit's handlers.
func TestRegisterHealth(t *testing.T) {
	t.Parallel()
	r := NewEngine(httpkit.NewLogger(io.Discard, slog.LevelInfo))
	RegisterHealth(r, httpkit.Health(func(context.Context) error { return errors.New("not ready") }))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodHead, "/healthz", http.StatusOK},
		{http.MethodGet, "/readyz", http.StatusServiceUnavailable},
		{http.MethodHead, "/readyz", http.StatusServiceUnavailable},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: %d %v, want %d from the health handler", tt.method, tt.path, resp.StatusCode, resp.Header, tt.status)
		}
	}
}
