// Command inventory serves branch stock: GET /branches,
// GET /branches/{id}/products, and the writes PUT
// /branches/{id}/products/{pid} (set, with the version read) and POST
// .../adjustments (add or take out, never below zero), every business route
// behind jwtauth (admin: every branch; branch-manager: the branches in its
// token's "branches" claim; anyone else 403); /healthz, /readyz and
// /metrics are open. Data lives in PostgreSQL (--database postgres://...)
// or the embedded SQLite default; migrations run at start.
//
// Configuration comes from flags and environment variables (a flag wins),
// as listed by -h and in the README (svcconfig's option table);
// --check-config validates it, prints it and exits. Exit codes: 0 ok,
// 1 runtime failure, 2 invalid configuration.
package main

import (
	"context"
	"net/http"

	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/inventory/internal/api"
	"github.com/gatewarden/gatewarden/services/inventory/internal/stock"
)

func main() { svcmain.Exec(service()) }

// run is main without the process: it serves until ctx is cancelled and
// returns the exit code.
func run(ctx context.Context, p svcmain.Process) int { return svcmain.Main(ctx, service(), p) }

func service() svcmain.Service {
	return svcmain.Service{
		Name:            "inventory",
		DefaultAudience: "inventory",
		Schema:          stock.Schema(),
		Handler: func(d svcmain.Deps) (http.Handler, error) {
			store, err := stock.New(d.DB.DB)
			if err != nil {
				return nil, err
			}
			return api.NewRouter(d, store)
		},
	}
}
