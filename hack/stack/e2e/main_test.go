// Package e2e drives the whole gatewarden system through every real front proxy available on
// this machine (the embedded Caddy, nginx, Debian's caddy binary) and through headless Chromium.
// The parts are the real binaries, built once from the main module.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/stack"
)

// binaries are built once by TestMain and shared by every stack (read-only after TestMain).
var binaries stack.Binaries

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var remove func()
	var err error
	if binaries, _, remove, err = stack.BuildTemp(ctx, os.Stderr, "e2e"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer remove()
	return m.Run()
}

// inCI reports whether the CI environment variable is set: then a missing proxy or browser is
// a failure, not a skip.
func inCI() bool { return os.Getenv("CI") != "" }

// requireTool skips (or, in CI, fails) when what is missing.
func requireTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if inCI() {
		t.Fatalf("%s is not installed, and CI is set: install it (see .ci/run)", what)
	}
	t.Skipf("%s is not installed (CI unset, so skipping)", what)
}

// startStack starts the system behind proxy with recorders in front of the services, and stops
// it when the test ends. The parts' logs go to <artifacts>/logs/<test>.log, named when the test
// fails.
func startStack(t *testing.T, proxy stack.Proxy) *stack.Stack {
	t.Helper()
	return startStackWith(t, stack.Options{Proxy: proxy})
}

// startStackWith is startStack with more options (Binaries, Record, Output, LogLevel are set).
func startStackWith(t *testing.T, opts stack.Options) *stack.Stack {
	t.Helper()
	proxy := opts.Proxy
	dir := filepath.Join(artifactsDir(t), "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts.Binaries, opts.Record, opts.Output, opts.LogLevel = binaries, true, logFile, "debug"
	s, err := stack.Start(ctx, opts)
	if err != nil {
		logFile.Close()
		t.Fatalf("start stack behind %s: %v\n(logs: %s)", proxy, err, logPath)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
		logFile.Close()
		if t.Failed() {
			t.Logf("logs of every part: %s", logPath)
		}
	})
	return s
}

// artifactsDir is $E2E_ARTIFACTS_DIR, or hack/stack/artifacts.
func artifactsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("E2E_ARTIFACTS_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(filepath.Dir(wd), "artifacts") // e2e/.. = hack/stack
}

func proxyAvailable(p stack.Proxy) (bool, string) {
	switch p {
	case stack.ProxyNginx:
		return stack.ProxyAvailable(p), "nginx (apt-get install nginx)"
	case stack.ProxyCaddyBinary:
		return stack.ProxyAvailable(p), "caddy (apt-get install caddy)"
	}
	return true, string(p)
}

func chromiumPath() (string, bool) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}
