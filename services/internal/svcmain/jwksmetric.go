package svcmain

import (
	"github.com/prometheus/client_golang/prometheus"
)

// jwksFetches registers jwks_fetches_total{issuer,result} on reg and returns
// the jwtauth.Config.OnJWKSFetch hook that counts into it (result ok or
// error). The chart's JWKSFetchFailing alert reads it.
func jwksFetches(reg prometheus.Registerer) func(issuer string, err error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwks_fetches_total",
		Help: "JWKS fetches of the token verifier (at start, periodic and on an unknown kid), by issuer and result (ok, error).",
	}, []string{"issuer", "result"})
	reg.MustRegister(c)
	return func(issuer string, err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		c.WithLabelValues(issuer, result).Inc()
	}
}
