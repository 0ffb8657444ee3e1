package svcmain

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestJWKSFetches(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	hook := jwksFetches(reg)
	hook("https://idp.test", nil)
	hook("https://idp.test", errors.New("status 503"))
	hook("https://idp.test", errors.New("refused"))
	for _, tt := range []struct {
		name, result string
		want         float64
	}{
		{name: "ok", result: "ok", want: 1},
		{name: "error", result: "error", want: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var got float64
			for _, mf := range mfs {
				if mf.GetName() != "jwks_fetches_total" {
					continue
				}
				for _, m := range mf.GetMetric() {
					labels := map[string]string{}
					for _, l := range m.GetLabel() {
						labels[l.GetName()] = l.GetValue()
					}
					if labels["issuer"] == "https://idp.test" && labels["result"] == tt.result {
						got = m.GetCounter().GetValue()
					}
				}
			}
			if got != tt.want {
				t.Fatalf("jwks_fetches_total{result=%q} = %v, want %v", tt.result, got, tt.want)
			}
		})
	}
}
