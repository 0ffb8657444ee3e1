package config

import (
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
	readme.TestVariables(t, (&Config{}).options(), EnvPrefix+`[A-Z0-9_]+`,
		"../../../charts/gatewarden/templates/*", "../../../charts/gatewarden/values.yaml", "../../../charts/gatewarden/README.md")
}

// TestEveryFieldIsAnOption: a Config field without an option would be
// missing from --help, --check-config, the logs and the README's table.
func TestEveryFieldIsAnOption(t *testing.T) {
	t.Parallel()
	var c Config
	// SigningKeys, Rules, HS256Secret and WebhookHMACKey are read from the
	// files options name; CheckConfig is the loader's own --check-config.
	if missing := c.options().Unbound(&c, "SigningKeys", "Rules", "HS256Secret", "WebhookHMACKey", "CheckConfig"); len(missing) > 0 {
		t.Fatalf("Config fields without an option: %v", missing)
	}
}
