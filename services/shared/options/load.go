package options

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// ErrHelp is returned by Load when -h or --help was given; the usage has
// been written.
var ErrHelp = flag.ErrHelp

// Loaded is what Load found besides the values it set.
type Loaded struct {
	// CheckConfig is set when --check-config was given.
	CheckConfig bool
	// Sources maps each option that got a value to where it came from:
	// "default", "file <path>", "env <VARIABLE>" or "flag --<name>".
	Sources map[string]string
	// Problems lists every bad value (each a *Problem); the binary adds its
	// own checks and passes them all to Invalid.
	Problems []error
}

// Failed reports whether a value of the option was rejected.
func (l Loaded) Failed(name string) bool {
	for _, err := range l.Problems {
		if p, ok := errors.AsType[*Problem](err); ok && p.Option == name {
			return true
		}
	}
	return false
}

// layer is the text one source gives an option.
type layer struct {
	source string
	texts  []string // one text; for lists, several (flag occurrences, file sequence)
}

// Load parses args (without the program name), reads the environment
// through getenv (os.Getenv in main) and, for a Set with ConfigFile, the
// YAML file named by --config, and sets every option's Value from the
// highest layer that gives it: flag, then variable, then file, then
// Default. It returns ErrHelp after writing the usage to usage, an error
// wrapping ErrInvalid for a command line that cannot be parsed (unknown
// flag, stray argument), and otherwise the Loaded result, whose Problems
// list the values that could not be parsed.
func (s Set) Load(args []string, getenv func(string) string, usage io.Writer) (Loaded, error) {
	if err := s.Check(); err != nil {
		return Loaded{}, err
	}
	fs := flag.NewFlagSet(s.Program, flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() { s.WriteUsage(fs.Output()) }
	flags := make(map[string]*recorder, len(s.Options))
	for _, o := range s.Options {
		r := &recorder{isBool: o.Value.isBool, repeat: o.Repeatable}
		flags[o.Name] = r
		fs.Var(r, o.Name, o.Usage)
	}
	var configFile string
	if s.ConfigFile {
		fs.StringVar(&configFile, configName, "", configHelp)
	}
	check := fs.Bool(checkConfigName, false, checkConfigHelp)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Loaded{}, ErrHelp
		}
		return Loaded{}, Invalid(Problemf("%v", err))
	}
	if fs.NArg() > 0 {
		return Loaded{}, Invalid(Problemf("unexpected arguments %q", fs.Args()))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	l := Loaded{CheckConfig: *check, Sources: map[string]string{}}
	win := make(map[string]layer, len(s.Options))
	for _, o := range s.Options {
		if o.Default != "" {
			win[o.Name] = layer{source: "default", texts: []string{o.Default}}
		}
	}
	if s.ConfigFile && !given[configName] {
		configFile = getenv(s.configEnv())
	}
	if configFile != "" {
		fileVals, problems := s.readFile(configFile)
		l.Problems = append(l.Problems, problems...)
		for name, texts := range fileVals {
			win[name] = layer{source: "file " + configFile, texts: texts}
		}
	}
	for _, o := range s.Options {
		if e := s.EnvVar(o); e != "" {
			if v := getenv(e); v != "" {
				win[o.Name] = layer{source: "env " + e, texts: []string{v}}
			}
		}
		if given[o.Name] {
			win[o.Name] = layer{source: "flag --" + o.Name, texts: flags[o.Name].texts}
		}
	}
	for _, o := range s.Options {
		w, ok := win[o.Name]
		if !ok {
			continue
		}
		l.Sources[o.Name] = w.source
		l.Problems = append(l.Problems, apply(o, w)...)
	}
	return l, nil
}

// apply parses the winning layer's text into the option's value.
func apply(o Option, w layer) []error {
	var errs []error
	bad := func(index int, err error) {
		if o.Secret() {
			err = errors.New("invalid value (not shown: it is a secret)")
		}
		errs = append(errs, &Problem{Option: o.Name, Source: w.source, Index: index, Err: err})
	}
	if !o.Value.list {
		if err := o.Value.set(w.texts[len(w.texts)-1]); err != nil {
			bad(0, err)
		}
		return errs
	}
	i := 0
	for _, text := range w.texts {
		for part := range strings.SplitSeq(text, o.sep()) {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			i++
			if err := o.Value.set(part); err != nil {
				bad(i, err)
			}
		}
	}
	return errs
}

// recorder keeps a flag's raw text so the layers can be merged after
// parsing.
type recorder struct {
	texts  []string
	isBool bool
	repeat bool
}

func (r *recorder) String() string { return strings.Join(r.texts, " ") }

func (r *recorder) Set(s string) error {
	if r.repeat {
		r.texts = append(r.texts, s)
	} else {
		r.texts = []string{s}
	}
	return nil
}

func (r *recorder) IsBoolFlag() bool { return r.isBool }

// readFile reads the YAML config file into texts keyed by option name. A
// list may be a YAML sequence or one separated string; null counts as
// unset.
func (s Set) readFile(path string) (map[string][]string, []error) {
	fail := func(format string, args ...any) []error {
		return []error{Problemf("config %s: "+format, append([]any{path}, args...)...)}
	}
	b, err := os.ReadFile(path) //nolint:gosec // G304: the path comes from the operator's configuration
	if err != nil {
		return nil, fail("%w", err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fail("%w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(j, &doc); err != nil {
		return nil, fail("top level must be a mapping: %w", err)
	}
	byKey := make(map[string]Option, len(s.Options))
	for _, o := range s.Options {
		if !o.FlagOnly {
			byKey[FileKey(o.Name)] = o
		}
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string][]string, len(doc))
	var errs []error
	for _, k := range keys {
		o, ok := byKey[k]
		if !ok && slices.Contains(s.ignoredKeys, k) {
			continue
		}
		if !ok {
			errs = append(errs, fail("unknown key %q", k)...)
			continue
		}
		texts, err := fileTexts(doc[k], o.Value.list)
		if err != nil {
			errs = append(errs, fail("%s: %w", k, err)...)
			continue
		}
		if texts != nil {
			out[o.Name] = texts
		}
	}
	return out, errs
}

// fileTexts turns one file value into option texts: a scalar as written
// (strings unquoted), a sequence of scalars (lists only) element by
// element, null as nil.
func fileTexts(r json.RawMessage, list bool) ([]string, error) {
	if string(r) == "null" {
		return nil, nil
	}
	var seq []json.RawMessage
	if json.Unmarshal(r, &seq) == nil {
		if !list {
			return nil, errors.New("must be a scalar, not a list")
		}
		texts := make([]string, 0, len(seq))
		for _, e := range seq {
			t, err := scalarText(e)
			if err != nil {
				return nil, fmt.Errorf("list elements %w", err)
			}
			texts = append(texts, t)
		}
		return texts, nil
	}
	t, err := scalarText(r)
	if err != nil {
		return nil, err
	}
	return []string{t}, nil
}

func scalarText(r json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s, nil
	}
	switch strings.TrimSpace(string(r))[0] {
	case '{':
		return "", errors.New("must be a scalar or a list, not a mapping")
	case '[':
		return "", errors.New("must be scalars")
	}
	return string(r), nil // numbers and booleans as written
}
