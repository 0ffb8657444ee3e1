// Command catalog serves the product catalog: GET /products (paged,
// searchable), GET /products/{id}, and POST/PUT/DELETE for the role admin,
// every business route behind jwtauth; /healthz, /readyz and /metrics are
// open. Products live in PostgreSQL (--database postgres://...) or the
// embedded SQLite default; migrations run at start.
//
// Configuration comes from flags and environment variables (a flag wins),
// as listed by -h and in the README (svcconfig's option table);
// --check-config validates it, prints it and exits. Exit codes: 0 ok,
// 1 runtime failure, 2 invalid configuration.
package main

import (
	"context"
	"net/http"

	"github.com/gatewarden/gatewarden/services/catalog/internal/api"
	"github.com/gatewarden/gatewarden/services/catalog/internal/products"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
)

func main() { svcmain.Exec(service()) }

// run is main without the process: it serves until ctx is cancelled and
// returns the exit code.
func run(ctx context.Context, p svcmain.Process) int { return svcmain.Main(ctx, service(), p) }

func service() svcmain.Service {
	return svcmain.Service{
		Name:            "catalog",
		DefaultAudience: "catalog",
		Schema:          products.Schema(),
		Handler: func(d svcmain.Deps) (http.Handler, error) {
			store, err := products.New(d.DB.DB)
			if err != nil {
				return nil, err
			}
			return api.NewRouter(d, store)
		},
	}
}
