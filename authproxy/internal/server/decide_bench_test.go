package server

import (
	"net/http"
	"testing"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
)

// discardWriter is a ResponseWriter that keeps one header map and drops
// the body, so a benchmark measures the handler, not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkDecision: authproxy's root handler (request id, routing, the
// decision, its answer headers, metrics and log line) for an allowed
// decision by session cookie and a public one, without net/http's
// connection handling (hack/bench measures that).
func BenchmarkDecision(b *testing.B) {
	// The default --decision-log-rate: nearly every allow is counted, not
	// written.
	_, ps := newEnv(b, envOpts{cfg: func(c *config.Config) { c.DecisionLogRate = 100 }})
	p := ps[0]
	cookie, _ := loggedIn(b, p, "admin@example.com")
	h := p.srv.Handler()
	for _, c := range []struct {
		name string
		f    fwd
	}{
		{"session", fwd{uri: "/admin/users", cookie: cookie, accept: jsonAccept}},
		{"public", fwd{uri: "/products/1", accept: jsonAccept}},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := c.f.request(b, p, dialectForwarded)
			req.RemoteAddr = "127.0.0.1:1234"
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Fatalf("status %d, want 200", w.code)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}
