package main

import (
	"flag"
	"testing"

	"github.com/gatewarden/gatewarden/services/shared/options/readme"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the option table in README.md from the code (make docs)")

// TestREADMETable: the README's dev IdP table is the option table's
// Markdown; `make docs` rewrites it.
func TestREADMETable(t *testing.T) {
	t.Parallel()
	if err := readme.Sync("../../../../README.md", "devidp", new(config).options().Markdown(), *updateDocs); err != nil {
		t.Fatal(err)
	}
}
