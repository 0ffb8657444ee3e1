package main

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

func TestPauseExitsZeroOnSignal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := gobuild.Build(t.Context(), gobuild.Options{Dir: ".", Out: dir, Static: true}, "."); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "pause")
	tests := []struct {
		name   string
		signal syscall.Signal
	}{
		{name: "SIGTERM", signal: syscall.SIGTERM},
		{name: "SIGINT", signal: syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				t.Fatalf("pause exited before any signal: %v", err)
			case <-time.After(time.Second): // still running, so its signal handler is installed
			}
			if err := cmd.Process.Signal(tt.signal); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("pause exited with %v after %s, want 0", err, tt.name)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("pause still running 10s after %s", tt.name)
			}
		})
	}
}
