package httpkit

import (
	"context"
	"encoding/json"
	"net/http"
)

// HealthHandlers answers liveness and readiness probes.
type HealthHandlers struct {
	// Healthz always answers 200 {"status":"ok"}: the process is serving.
	Healthz http.Handler
	// Readyz answers 200 {"status":"ok"} when the ready function returns
	// nil, else 503 {"status":"unavailable"}. The error's text is not shown.
	Readyz http.Handler
}

// Health returns the /healthz and /readyz handlers. ready may be nil
// (always ready).
func Health(ready func(ctx context.Context) error) HealthHandlers {
	return HealthHandlers{
		Healthz: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeStatus(w, http.StatusOK, "ok")
		}),
		Readyz: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ready != nil {
				if err := ready(r.Context()); err != nil {
					writeStatus(w, http.StatusServiceUnavailable, "unavailable")
					return
				}
			}
			writeStatus(w, http.StatusOK, "ok")
		}),
	}
}

func writeStatus(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": s})
}
