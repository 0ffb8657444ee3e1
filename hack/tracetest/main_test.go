package tracetest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/stack"
	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

// Built once by TestMain (read-only after it).
var (
	binaries stack.Binaries
	otelcol  string // the collector binary
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var remove func()
	var err error
	if binaries, repoRoot, remove, err = stack.BuildTemp(ctx, os.Stderr, "tracetest"); err != nil {
		fmt.Fprintln(os.Stderr, "tracetest:", err)
		return 1
	}
	defer remove()
	if otelcol, err = collectorBinary(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tracetest:", err)
		return 1
	}
	return m.Run()
}

// collectorBinary is $TRACETEST_OTELCOL, else the collector that hack/kubebin/build.sh otel
// builds (a cache hit after hack/test.sh's build phase; minutes when cold).
func collectorBinary(ctx context.Context) (string, error) {
	if p := os.Getenv("TRACETEST_OTELCOL"); p != "" {
		return p, nil
	}
	start := time.Now()
	bin, err := gobuild.Cached(ctx, repoRoot, "otel", "otelcol", os.Stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "tracetest: collector ready in %v\n", time.Since(start).Round(time.Millisecond))
	return bin, nil
}
