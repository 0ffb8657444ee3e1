package app

import (
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// Decision benchmarks run the whole /authz handler in process (request id,
// dialect parsing, rule match, credential, token) on the App main builds,
// against a real redis-server. Report decisions/s as 1e9 / ns/op.
//
//	go test -run '^$' -bench Decision -benchtime 2000x ./authproxy/internal/app/
func benchDecision(b *testing.B, cacheTTL time.Duration, uri string, withSession bool) {
	rs := testkit.StartRedis(b)
	a, err := New(Deps{Config: appConfig(b, rs.Addr(), cacheTTL)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	var cookie string
	if withSession {
		cookie = adminSession(b, rs.Addr())
	}
	h := a.Handler()
	req := httptest.NewRequest(http.MethodGet, "/authz", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "app.example")
	req.Header.Set("X-Forwarded-Uri", uri)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	// Warm up (token cache, connections) and check the answer once.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.SetParallelism(8) // an ingress keeps many decisions in flight
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d", rec.Code)
				return
			}
		}
	})
	b.StopTimer()
	// CPU time per decision: on a shared, loaded machine wall-clock ns/op
	// includes waiting for a core; this does not.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkDecisionPublic(b *testing.B) {
	benchDecision(b, time.Second, "/products?page=1", false)
}

func BenchmarkDecisionSessionRedis(b *testing.B) {
	benchDecision(b, 0, "/admin/users", true) // one Redis GET per decision
}

func BenchmarkDecisionSessionCached(b *testing.B) {
	benchDecision(b, time.Second, "/admin/users", true)
}
