package svcconfig

import (
	"os"
	"path/filepath"
	"regexp"
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
	set := new(Config).options("catalog", "catalog")
	known := map[string]bool{}
	for _, o := range set.Options {
		known[set.EnvVar(o)] = true
	}
	files, err := filepath.Glob("../../../charts/gatewarden/templates/*")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`\bJWT_[A-Z0-9_]+`)
	seen := 0
	for _, f := range append(files, "../../../charts/gatewarden/README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range name.FindAllString(string(b), -1) {
			seen++
			if !known[v] {
				t.Errorf("%s names %s, which the services do not read", f, v)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no JWT_ variable found in the chart: did it move?")
	}
}
