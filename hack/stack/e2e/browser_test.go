package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gatewarden/gatewarden/hack/e2e"
	"github.com/gatewarden/gatewarden/hack/stack"
)

// screenshotDir is where the browser test writes its screenshots: $E2E_SCREENSHOT_DIR, or
// <artifacts>/screenshots (hack/stack/artifacts/screenshots).
func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("E2E_SCREENSHOT_DIR"); d != "" {
		return d
	}
	return filepath.Join(artifactsDir(t), "screenshots")
}

// TestBrowser runs the shared browser flow (hack/e2e) through the embedded Caddy.
func TestBrowser(t *testing.T) {
	// Not parallel: see TestThroughProxies.
	chromium, ok := chromiumPath()
	requireTool(t, ok, "chromium (apt-get install chromium)")
	s := startStack(t, stack.ProxyCaddyEmbedded)
	e2e.Browser(t, target(s), e2e.BrowserOptions{Chromium: chromium, ScreenshotDir: screenshotDir(t)})
}
