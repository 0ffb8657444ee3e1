package httpkit

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// EnvFlags gives the flags of a flag.FlagSet defaults from environment
// variables. Precedence: a flag given on the command line wins over its
// environment variable, which wins over the flag's built-in default. An
// environment variable that is set but empty counts as unset, so a
// template that renders VAR="" does not override a default.
//
// The variable of flag "session-lifetime" is Prefix + "SESSION_LIFETIME"
// unless Names maps the flag to another name ("-" means: no variable).
// For a flag listed in Split, the variable holds several values separated
// by the given separator, and Set is called once per non-empty value, the
// way a repeated flag would be (e.g. JWT_ISSUERS="spec1;spec2").
//
//	ef := httpkit.EnvFlags{Prefix: "AUTHPROXY_", Lookup: os.LookupEnv}
//	err := ef.Parse(fs, os.Args[1:])
type EnvFlags struct {
	// Prefix is prepended to derived variable names, e.g. "AUTHPROXY_".
	Prefix string
	// Names maps flag names to explicit variable names; "-" disables the
	// variable for that flag.
	Names map[string]string
	// Split maps flag names to the separator of their list-valued variable.
	Split map[string]string
	// Lookup reads a variable; nil means os.LookupEnv. Tests pass a map's
	// lookup instead of touching the process environment.
	Lookup func(name string) (string, bool)
}

// EnvName returns the variable name for the flag, or "" when it has none.
func (e EnvFlags) EnvName(flagName string) string {
	if n, ok := e.Names[flagName]; ok {
		if n == "-" {
			return ""
		}
		return n
	}
	return e.Prefix + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// Parse parses args into fs, then sets every flag that was not given on the
// command line from its environment variable. Command-line errors are
// returned as fs.Parse reports them; every bad environment value is
// reported at once (errors.Join), each naming its variable and flag. The
// value itself is not added to the error (it may be a secret); the flag's
// own Set error is passed on as is (the built-in flag types say only
// "parse error").
func (e EnvFlags) Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return e.Apply(fs)
}

// Apply sets the flags of an already parsed fs that were not given on the
// command line from their environment variables.
func (e EnvFlags) Apply(fs *flag.FlagSet) error {
	lookup := e.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := e.EnvName(f.Name)
		if given[f.Name] || name == "" {
			return
		}
		v, ok := lookup(name)
		if !ok || v == "" {
			return
		}
		values := []string{v}
		if sep, ok := e.Split[f.Name]; ok && sep != "" {
			values = values[:0]
			for part := range strings.SplitSeq(v, sep) {
				if part = strings.TrimSpace(part); part != "" {
					values = append(values, part)
				}
			}
		}
		for _, val := range values {
			if err := fs.Set(f.Name, val); err != nil {
				errs = append(errs, fmt.Errorf("env %s (flag --%s): invalid value: %w", name, f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// Usage returns a flag.FlagSet.Usage function that prints the usage of fs
// followed by each flag's environment variable.
func (e EnvFlags) Usage(fs *flag.FlagSet, intro string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintln(w, intro)
		fs.PrintDefaults()
		fmt.Fprintln(w, "\nEnvironment (a flag on the command line wins):")
		fs.VisitAll(func(f *flag.Flag) {
			if name := e.EnvName(f.Name); name != "" {
				fmt.Fprintf(w, "  %-28s --%s\n", name, f.Name)
			}
		})
	}
}
