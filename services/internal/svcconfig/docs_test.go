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

// TestEveryFieldIsAnOption: a Config field without an option would be
// missing from --help, --check-config, the logs and the README's table.
func TestEveryFieldIsAnOption(t *testing.T) {
	t.Parallel()
	var c Config
	// CheckConfig is the loader's own --check-config.
	if missing := c.options("catalog", "catalog").Unbound(&c, "CheckConfig"); len(missing) > 0 {
		t.Fatalf("Config fields without an option: %v", missing)
	}
}
