package options

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every configuration problem and by the error
// Invalid returns, so callers tell a bad configuration (exit 2) from other
// failures with errors.Is.
var ErrInvalid = errors.New("invalid configuration")

// Exit codes of every binary.
const (
	ExitOK      = 0
	ExitFailure = 1 // could not start or serve
	ExitConfig  = 2 // invalid configuration or command line
)

// Problem is one thing wrong with a configuration. Its message names the
// option and where the value came from, e.g.
// `refresh-window (flag --refresh-window): invalid value "soon": ...` or,
// for a list element, `issuer #2 (env JWT_ISSUERS): ...`.
type Problem struct {
	Option string // "" for a problem not about one option's value
	Source string // "flag --x", "env X", "file F" or "default"
	Index  int    // the list element, from 1; 0 for a single value
	Err    error
}

// Problemf returns a problem with a message of the binary's own, such as a
// cross-field check: "session-idle-timeout (2h) must not exceed ...".
func Problemf(format string, args ...any) error {
	return &Problem{Err: fmt.Errorf(format, args...)}
}

// Error writes one line per line of the underlying error, each prefixed
// with the option and source, so a parser that reports several problems
// yields several lines.
func (p *Problem) Error() string {
	if p.Option == "" {
		return p.Err.Error()
	}
	prefix := p.Option
	if p.Index > 0 {
		prefix += " #" + strconv.Itoa(p.Index)
	}
	prefix += " (" + p.Source + "): "
	lines := strings.Split(p.Err.Error(), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the underlying error.
func (p *Problem) Unwrap() error { return p.Err }

// Is makes every Problem match ErrInvalid.
func (p *Problem) Is(target error) bool { return target == ErrInvalid }

// invalid is a configuration's problems together.
type invalid struct{ errs []error }

// Invalid joins the problems found (nil entries are skipped) into one error
// that wraps ErrInvalid and each problem, or returns nil when there are
// none. Its message is "invalid configuration:" and then one problem a line.
func Invalid(errs ...error) error {
	var kept []error
	for _, err := range errs {
		if err != nil {
			kept = append(kept, err)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &invalid{errs: kept}
}

func (e *invalid) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalid.Error() + ":")
	for _, err := range e.errs {
		for l := range strings.SplitSeq(err.Error(), "\n") {
			b.WriteString("\n  " + l)
		}
	}
	return b.String()
}

func (e *invalid) Unwrap() []error { return e.errs }

func (e *invalid) Is(target error) bool { return target == ErrInvalid }

// Checkable is a loaded configuration as Report needs it.
type Checkable interface {
	// CheckOnly reports whether --check-config was given.
	CheckOnly() bool
	// Summary is the effective configuration, secrets redacted (Set.Summary).
	Summary() string
}

// Report is the one ending of every binary's configuration step. After a
// help request it returns ExitOK; for an invalid configuration it writes
// "<program>: invalid configuration:" and the problems to stderr and
// returns ExitConfig; with --check-config it writes "config ok" and the
// summary to stdout and returns ExitOK. In those cases stop is true. When
// the program should go on and run, stop is false. cfg is not used when
// err is not nil.
func Report(program string, cfg Checkable, err error, stdout, stderr io.Writer) (code int, stop bool) {
	switch {
	case errors.Is(err, ErrHelp):
		return ExitOK, true
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", program, err)
		return ExitConfig, true
	case cfg.CheckOnly():
		fmt.Fprintf(stdout, "config ok\n%s", cfg.Summary())
		return ExitOK, true
	}
	return ExitOK, false
}

// WriteUsage writes the -h text: the Synopsis, then every flag with its
// variable, default and usage, the built-in --config and --check-config
// last.
func (s Set) WriteUsage(w io.Writer) {
	order := "a flag beats its variable, which beats the default"
	if s.ConfigFile {
		order = "a flag beats its variable, which beats the --config file, which beats the default"
	}
	synopsis := s.Synopsis
	if synopsis == "" {
		synopsis = "usage: " + s.Program + " [flags]"
	}
	fmt.Fprintf(w, "%s\n\nEach flag may also be given by its environment variable where one is shown (%s; an empty variable counts as unset).\n\n", strings.TrimRight(synopsis, "\n"), order)
	for _, o := range s.Options {
		var notes []string
		if e := s.EnvVar(o); e != "" {
			notes = append(notes, "env "+e)
		}
		if o.Default != "" {
			notes = append(notes, "default "+strconv.Quote(o.Default))
		}
		if o.IsList() {
			list := "list separated by " + strconv.Quote(o.sep())
			if o.Repeatable {
				list += ", repeatable"
			}
			notes = append(notes, list)
		}
		if o.Secret() {
			notes = append(notes, "secret")
		}
		writeFlag(w, o.Name, o.Value.isBool, o.Usage, notes)
	}
	if s.ConfigFile {
		writeFlag(w, configName, false, configHelp, []string{"env " + s.configEnv()})
	}
	writeFlag(w, checkConfigName, true, checkConfigHelp, nil)
}

func writeFlag(w io.Writer, name string, isBool bool, usage string, notes []string) {
	arg := " value"
	if isBool {
		arg = ""
	}
	fmt.Fprintf(w, "  --%s%s", name, arg)
	if len(notes) > 0 {
		fmt.Fprintf(w, "  (%s)", strings.Join(notes, "; "))
	}
	fmt.Fprintf(w, "\n      %s\n", usage)
}
