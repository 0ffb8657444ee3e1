package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// process is one long-running program of the cluster, its output in LogDir/NAME.log.
type process struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done closes
}

// start starts cmd with its output in logDir/name.log.
func start(cmd *exec.Cmd, logDir, name string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so a Ctrl-C at the terminal reaches only the harness, which then
	// stops the cluster in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and, after grace, SIGKILL; it waits for the process to end.
func (p *process) stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// failure describes how the process ended, with the end of its log.
func (p *process) failure() error {
	return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.Name, p.err, p.Log, logTail(p.Log, 3000))
}

// waitFor polls check every interval (testkit.Poll) until it succeeds, ctx ends, or one of the
// watched processes exits.
func waitFor(ctx context.Context, what string, interval time.Duration, check func(context.Context) error, watch ...*process) error {
	return testkit.Poll(ctx, what, 0, interval, func(ctx context.Context) error {
		err := check(ctx)
		if err == nil {
			return nil
		}
		for _, p := range watch {
			if p.Exited() {
				return testkit.Abort(p.failure())
			}
		}
		return err
	})
}

func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = append([]byte("..."), b[len(b)-n:]...)
	}
	return string(b)
}

// errJoin collects errors of cleanup steps.
type errJoin []error

func (e *errJoin) add(err error) {
	if err != nil {
		*e = append(*e, err)
	}
}

func (e errJoin) err() error { return errors.Join(e...) }
