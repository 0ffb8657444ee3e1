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
