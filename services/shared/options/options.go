package options

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Set is one binary's option table.
type Set struct {
	// Program names the binary in usage and error output ("authproxy").
	Program string
	// EnvPrefix prefixes derived variable names: option "public-url" of
	// prefix "AUTHPROXY_" reads AUTHPROXY_PUBLIC_URL.
	EnvPrefix string
	// ConfigFile adds --config (variable EnvPrefix+"CONFIG"): a YAML file
	// whose keys are the options' FileKeys; unknown keys are rejected.
	ConfigFile bool
	// Options in the order usage, summaries, logs and docs list them.
	Options []Option
	// Synopsis, when set, replaces the first line of the -h text
	// ("usage: <Program> [flags]"); it may span several lines.
	Synopsis string

	// ignoredKeys are config-file keys accepted and ignored: those of the
	// options a Subset left out.
	ignoredKeys []string
}

// Option is one setting.
type Option struct {
	// Name is the flag name, lower-case words joined by "-".
	Name string
	// Env is the environment variable; empty means the Set's EnvPrefix
	// followed by Name in upper snake case, and "-" means none.
	Env string
	// Default is the value, as text, taken when no layer gives one; "" is
	// no default (the field keeps its zero value).
	Default string
	// DocDefault replaces the default in the docs when the text says more
	// ("required", "discovered"); Markdown as is.
	DocDefault string
	// Usage says what the option does; it may use Markdown code spans.
	Usage string
	// Sep separates the elements of a list given as one text (flag, env
	// or a file string); "" means ",". Only for list values.
	Sep string
	// Repeatable lets a list flag be given several times, the occurrences
	// adding up; otherwise the last occurrence wins, as for other flags.
	Repeatable bool
	// FlagOnly makes the option a command argument rather than a setting:
	// a flag only, with no environment variable or file key (Env must be
	// empty). A subcommand's own flags are such options.
	FlagOnly bool
	// Value is where the parsed value goes (String, Duration, List, ...).
	Value Value
}

// Secret reports whether the option's value is a secret: never printed,
// logged or echoed in an error.
func (o Option) Secret() bool { return o.Value.secret }

// IsList reports whether the option takes a list.
func (o Option) IsList() bool { return o.Value.list }

func (o Option) sep() string {
	if o.Sep == "" {
		return ","
	}
	return o.Sep
}

// EnvVar returns the option's environment variable, or "" when it has none.
func (s Set) EnvVar(o Option) string {
	if o.FlagOnly {
		return ""
	}
	switch o.Env {
	case "-":
		return ""
	case "":
		return s.EnvPrefix + strings.ToUpper(strings.ReplaceAll(o.Name, "-", "_"))
	}
	return o.Env
}

// FileKey returns the config-file key of an option: its name in snake case.
func FileKey(name string) string { return strings.ReplaceAll(name, "-", "_") }

// The built-in options of every Set.
const (
	checkConfigName = "check-config"
	configName      = "config"
	checkConfigHelp = "validate the configuration, print it (secrets redacted) with where each value came from, and exit: 0 ok, 2 invalid"
	configHelp      = "YAML configuration file; keys are the flag names in snake case, unknown keys are rejected"
)

func (s Set) configEnv() string { return s.EnvPrefix + "CONFIG" }

var optionName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Check reports mistakes in the table itself: names that are not flag
// names or are used twice, variables used twice, options without a Value,
// separators or repetition on a value that is not a list. Load runs it.
func (s Set) Check() error {
	var errs []error
	names := map[string]bool{checkConfigName: true}
	envs := map[string]string{}
	if s.ConfigFile {
		names[configName] = true
		envs[s.configEnv()] = configName
	}
	for _, o := range s.Options {
		switch {
		case !optionName.MatchString(o.Name):
			errs = append(errs, fmt.Errorf("options: %s: %q is not a flag name (lower-case words joined by -)", s.Program, o.Name))
		case names[o.Name]:
			errs = append(errs, fmt.Errorf("options: %s: option %q defined twice (or a built-in)", s.Program, o.Name))
		}
		names[o.Name] = true
		if e := s.EnvVar(o); e != "" {
			if other, dup := envs[e]; dup {
				errs = append(errs, fmt.Errorf("options: %s: options %q and %q share the variable %s", s.Program, other, o.Name, e))
			}
			envs[e] = o.Name
		}
		if o.FlagOnly && o.Env != "" {
			errs = append(errs, fmt.Errorf("options: %s: option %q: a FlagOnly option has no variable", s.Program, o.Name))
		}
		if o.Value.set == nil {
			errs = append(errs, fmt.Errorf("options: %s: option %q has no Value", s.Program, o.Name))
			continue
		}
		if !o.Value.list && (o.Sep != "" || o.Repeatable) {
			errs = append(errs, fmt.Errorf("options: %s: option %q: Sep and Repeatable are for lists", s.Program, o.Name))
		}
	}
	return errors.Join(errs...)
}

// Subset returns the options of s that keep selects, for a subcommand that
// reads part of the binary's configuration: the same flags and variables,
// and the same --config file, in which the keys of the options left out
// are accepted and ignored (as their variables are), so one file serves
// the binary and its subcommands. The subcommand sets its own Program and
// Synopsis and appends its FlagOnly arguments.
func (s Set) Subset(keep func(Option) bool) Set {
	sub := s
	sub.Options = nil
	sub.ignoredKeys = slices.Clone(s.ignoredKeys)
	for _, o := range s.Options {
		switch {
		case keep(o):
			sub.Options = append(sub.Options, o)
		case !o.FlagOnly:
			sub.ignoredKeys = append(sub.ignoredKeys, FileKey(o.Name))
		}
	}
	return sub
}

// LogValue implements slog.LogValuer for the whole table: every option
// under its file key, secrets redacted.
func (s Set) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(s.Options))
	for _, o := range s.Options {
		attrs = append(attrs, slog.Attr{Key: FileKey(o.Name), Value: o.Value.log()})
	}
	return slog.GroupValue(attrs...)
}

// Summary is the effective configuration for --check-config: one line per
// option (per element for lists), "name: value", with "# source" saying
// where the value came from (sources as Load's Loaded.Sources). Secrets
// show as [REDACTED].
func (s Set) Summary(sources map[string]string) string {
	var b strings.Builder
	for _, o := range s.Options {
		lines := o.Value.show()
		if len(lines) == 0 {
			lines = []string{""}
		}
		for _, v := range lines {
			b.WriteString(o.Name + ":")
			if v != "" {
				b.WriteString(" " + v)
			}
			if src := sources[o.Name]; src != "" {
				b.WriteString("  # " + src)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Unbound returns the exported fields of the struct cfg points to that no
// option of s is bound to, except those named in derived (fields computed
// from others, such as a parsed file's contents). A binary's test calls it
// so that a field added to its configuration without an option (and so
// missing from --help, --check-config, the logs and the README) fails.
func (s Set) Unbound(cfg any, derived ...string) []string {
	rv := reflect.ValueOf(cfg)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return []string{fmt.Sprintf("options: Unbound wants a pointer to a struct, got %T", cfg)}
	}
	bound := map[uintptr]reflect.Type{}
	for _, o := range s.Options {
		if t := reflect.ValueOf(o.Value.target); t.Kind() == reflect.Pointer {
			bound[t.Pointer()] = t.Type().Elem()
		}
	}
	var missing []string
	st := rv.Elem()
	for i := range st.NumField() {
		f := st.Type().Field(i)
		if !f.IsExported() || slices.Contains(derived, f.Name) {
			continue
		}
		if bound[st.Field(i).Addr().Pointer()] != f.Type {
			missing = append(missing, f.Name)
		}
	}
	return missing
}
