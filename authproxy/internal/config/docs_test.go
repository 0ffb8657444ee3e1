package config

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gatewarden/gatewarden/services/shared/options/readme"
)

// TestREADMETable: the README's authproxy table is the option table's
// Markdown; `make docs` rewrites it.
func TestREADMETable(t *testing.T) {
	t.Parallel()
	readme.Test(t, "../../../README.md", "authproxy", (&Config{}).options().Markdown())
}

// TestChartVariables: every AUTHPROXY_ variable the chart sets or names in
// its docs is one authproxy reads, so renaming an option cannot leave the
// chart setting a variable nobody reads.
func TestChartVariables(t *testing.T) {
	t.Parallel()
	set := (&Config{}).options()
	known := map[string]bool{EnvPrefix + "CONFIG": true}
	for _, o := range set.Options {
		known[set.EnvVar(o)] = true
	}
	files, err := filepath.Glob("../../../charts/gatewarden/templates/*")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../../charts/gatewarden/values.yaml", "../../../charts/gatewarden/README.md")
	name := regexp.MustCompile(EnvPrefix + `[A-Z0-9_]+`)
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range name.FindAllString(string(b), -1) {
			seen++
			if !known[v] {
				t.Errorf("%s names %s, which authproxy does not read", f, v)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no AUTHPROXY_ variable found in the chart: did it move?")
	}
}
