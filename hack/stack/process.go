package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a child program whose output is copied, line by line and prefixed with its name,
// to the stack's output; the last lines are kept for error messages.
type process struct {
	name string
	// path, args, env, dir and output start it again (restart).
	path      string
	args, env []string
	dir       string
	output    io.Writer
	cmd       *exec.Cmd
	out       *lineWriter
	done      chan struct{} // closed when the process has exited
	err       error         // Wait's result; read after done is closed
}

// startProcess starts path with args. The child gets SIGTERM if this process dies first.
func startProcess(name, path string, args, env []string, dir string, out io.Writer) (*process, error) {
	lw := newLineWriter(name, out)
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	cmd.Stdout = lw
	cmd.Stderr = lw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("stack: start %s: %w", name, err)
	}
	p := &process{name: name, path: path, args: args, env: env, dir: dir, output: out, cmd: cmd, out: lw, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lw.flush()
		close(p.done)
	}()
	return p, nil
}

// restart starts the same program again (the old one must have exited).
func (p *process) restart() (*process, error) {
	return startProcess(p.name, p.path, p.args, p.env, p.dir, p.output)
}

// exited reports whether the process has ended, with its error and last output lines.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, fmt.Errorf("stack: %s exited: %v; last output:\n%s", p.name, p.err, p.out.tail())
	default:
		return false, nil
	}
}

// stop sends SIGTERM, waits up to grace for the process to exit, then kills it.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stack: stop %s: %w", p.name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("stack: %s did not stop within %v after SIGTERM; killed", p.name, grace)
	}
}

// lineWriter prefixes every line with a name and keeps the last tailLines lines.
type lineWriter struct {
	prefix string
	out    io.Writer

	mu   sync.Mutex
	buf  []byte
	last []string
}

const tailLines = 40

func newLineWriter(name string, out io.Writer) *lineWriter {
	if out == nil {
		out = io.Discard
	}
	return &lineWriter{prefix: fmt.Sprintf("%-10s| ", name), out: out}
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

func (w *lineWriter) emit(line string) {
	_, _ = io.WriteString(w.out, w.prefix+line+"\n")
	w.last = append(w.last, line)
	if len(w.last) > tailLines {
		w.last = w.last[len(w.last)-tailLines:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

func (w *lineWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.last, "\n")
}
