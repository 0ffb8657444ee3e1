package svcconfig

import (
	"testing"

	"github.com/gatewarden/gatewarden/services/shared/options/readme"
)

// TestREADMETable: the README's catalog and inventory table is the option
// table's Markdown (the same for both: the audience's default is
// documented, not rendered); `make docs` rewrites it.
func TestREADMETable(t *testing.T) {
	t.Parallel()
	readme.Test(t, "../../../README.md", "services", new(Config).options("catalog", "catalog").Markdown())
}

// TestChartVariables: every JWT_ variable the chart sets is one the
// services read.
func TestChartVariables(t *testing.T) {
	t.Parallel()
	readme.TestVariables(t, new(Config).options("catalog", "catalog"), `\bJWT_[A-Z0-9_]+`,
		"../../../charts/gatewarden/templates/*", "../../../charts/gatewarden/README.md")
}
