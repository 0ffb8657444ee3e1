// Command valuesdoc writes the values table of a chart's README.md from the "# --" comments in
// its values.yaml (helm-docs' convention; see package valuesdoc), between the README's markers.
// `make chart-docs` runs it for charts/gatewarden; TestValuesDoc fails when the table is stale.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatewarden/gatewarden/hack/charttest/valuesdoc"
)

func main() {
	chart := flag.String("chart", "../../charts/gatewarden", "the chart's folder (values.yaml and README.md)")
	flag.Parse()
	if err := run(*chart); err != nil {
		fmt.Fprintln(os.Stderr, "valuesdoc:", err)
		os.Exit(1)
	}
}

func run(chart string) error {
	values, err := os.ReadFile(filepath.Join(chart, "values.yaml"))
	if err != nil {
		return err
	}
	readmePath := filepath.Join(chart, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		return err
	}
	out, err := valuesdoc.Render(values, readme)
	if err != nil {
		return err
	}
	if bytes.Equal(out, readme) {
		return nil
	}
	return os.WriteFile(readmePath, out, 0o644)
}
