package main

import (
	"testing"

	"github.com/gatewarden/gatewarden/services/shared/options/readme"
)

// TestREADMETable: the README's dev IdP table is the option table's
// Markdown; `make docs` rewrites it.
func TestREADMETable(t *testing.T) {
	t.Parallel()
	readme.Test(t, "../../../../README.md", "devidp", new(config).options().Markdown())
}

// TestEveryFieldIsAnOption: a config field without an option would be
// missing from --help, --check-config, the logs and the README's table.
func TestEveryFieldIsAnOption(t *testing.T) {
	t.Parallel()
	var c config
	// CheckConfig is the loader's own --check-config.
	if missing := c.options().Unbound(&c, "CheckConfig"); len(missing) > 0 {
		t.Fatalf("config fields without an option: %v", missing)
	}
}
