package ginkit

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// routeUnmatched is the route label of requests that matched no route, so
// scanners cannot blow up the label cardinality with random paths.
const routeUnmatched = "unmatched"

// Metrics registers http_requests_total{route,method,status} and
// http_request_duration_seconds{route,method} on reg and returns the gin
// middleware that fills them. The route label is the route pattern
// ("/products/:id"), never the raw path. httpkit.MetricsHandler serves reg.
func Metrics(reg prometheus.Registerer) (gin.HandlerFunc, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "HTTP requests served, by route pattern, method and status code.",
	}, []string{"route", "method", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "HTTP request latency, by route pattern and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method"})
	for _, c := range []prometheus.Collector{requests, duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ginkit: register metrics: %w", err)
		}
	}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = routeUnmatched
		}
		method := c.Request.Method
		if !knownMethod(method) {
			method = "other"
		}
		requests.WithLabelValues(route, method, strconv.Itoa(c.Writer.Status())).Inc()
		duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	}, nil
}

func knownMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}
