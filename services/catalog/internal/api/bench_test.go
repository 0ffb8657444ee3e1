package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatewarden/gatewarden/services/catalog/internal/products"
	"github.com/gatewarden/gatewarden/services/internal/database"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/internal/svctest"
)

// BenchmarkList is the catalog's hot path, GET /products (a page of 20,
// with and without a search), through the real router and token check, on
// each backend. The gateway's throughput for the same request is measured
// with wrk (README, "Data and writes").
func BenchmarkList(b *testing.B) {
	pg := svctest.StartPostgres(b)
	backends := []svctest.Backend{{Name: "sqlite", URL: database.Memory}, {Name: "postgres", URL: pg.NewDatabase(b)}}
	for _, be := range backends {
		store, err := products.New(svctest.OpenDB(b, be.URL, products.Schema()).DB)
		if err != nil {
			b.Fatal(err)
		}
		srv, iss := svctest.Serve(b, audience, nil, func(d svcmain.Deps) (http.Handler, error) { return NewRouter(d, store) })
		tok := iss.Token(b, audience, "anonymous", nil)
		h := srv.Config.Handler
		for _, q := range []string{"/products?limit=20", "/products?limit=20&q=tea"} {
			b.Run(be.Name+q, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, q, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}
