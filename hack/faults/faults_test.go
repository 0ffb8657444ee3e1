package faults_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/faults"
	"github.com/gatewarden/gatewarden/hack/stack"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

// TestShort is the harness's short mode, as CI runs it: every fault once under the mixed
// load, through the embedded Caddy with two authproxy replicas. It fails on any wrong allow
// and on a harness error; latencies and recovery times are reported, never asserted.
func TestShort(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the fault harness starts the whole system")
	}
	testkit.NeedRedis(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := gobuild.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	bins, err := stack.Build(ctx, root, filepath.Join(t.TempDir(), "bin"))
	if err != nil {
		t.Fatal(err)
	}
	var out, logs strings.Builder
	rep, err := faults.Run(ctx, faults.Config{Mode: faults.ModeShort, Binaries: bins, RepoRoot: root, Out: &out, Logs: &logs})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("harness: %v\nlast logs:\n%s", err, tail(logs.String(), 60))
	}
	if len(rep.Phases) == 0 {
		t.Fatal("no phase ran")
	}
	for _, p := range rep.Phases {
		if p.Requests == 0 {
			t.Errorf("%s: no request completed", p.Name)
		}
		if p.WrongAllows != 0 {
			t.Errorf("%s: %d wrong allows: %v", p.Name, p.WrongAllows, p.Wrong)
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
