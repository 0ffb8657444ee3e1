package options

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Value is where an option's parsed value goes: a field of the binary's
// configuration, bound by one of the constructors below (Scalar and List
// for types of the binary's own).
type Value struct {
	set    func(text string) error // scalar: replace; list: append one element
	show   func() []string         // the value as text, one line per element; never a secret
	log    func() slog.Value
	list   bool
	isBool bool
	secret bool
	target any // the bound field's pointer (Unbound)
}

// Scalar binds a single value of any type: parse reads one text, format
// shows the value in summaries and logs (it must not reveal secrets).
func Scalar[T any](p *T, parse func(string) (T, error), format func(T) string) Value {
	return Value{
		set:    parseInto(parse, func(v T) { *p = v }),
		show:   func() []string { return []string{format(*p)} },
		log:    func() slog.Value { return slog.StringValue(format(*p)) },
		target: p,
	}
}

// List binds a list: parse reads one element, format shows one.
func List[T any](p *[]T, parse func(string) (T, error), format func(T) string) Value {
	shown := func() []string {
		out := make([]string, len(*p))
		for i, v := range *p {
			out[i] = format(v)
		}
		return out
	}
	return Value{
		set:    parseInto(parse, func(v T) { *p = append(*p, v) }),
		show:   shown,
		log:    func() slog.Value { return slog.AnyValue(shown()) },
		list:   true,
		target: p,
	}
}

// parseInto parses a text and hands the value to store.
func parseInto[T any](parse func(string) (T, error), store func(T)) func(string) error {
	return func(s string) error {
		v, err := parse(s)
		if err != nil {
			return err
		}
		store(v)
		return nil
	}
}

func trimmed(s string) (string, error) { return strings.TrimSpace(s), nil }
func same(s string) string             { return s }

// String binds a string; surrounding spaces are trimmed.
func String(p *string) Value { return Scalar(p, trimmed, same) }

// Strings binds a list of strings.
func Strings(p *[]string) Value { return List(p, trimmed, same) }

// SecretString binds a Secret: taken as given (not trimmed), never shown.
func SecretString(p *Secret) Value {
	return Hidden(Scalar(p, func(s string) (Secret, error) { return Secret(s), nil }, Secret.String))
}

// Hidden marks a value as a secret: summaries and logs show [REDACTED] (or
// nothing when it is unset) and a value that fails to parse is not echoed.
func Hidden(v Value) Value {
	show := v.show
	redact := func() string {
		if lines := show(); len(lines) == 0 || len(lines) == 1 && lines[0] == "" {
			return ""
		}
		return Redacted
	}
	v.show = func() []string { return []string{redact()} }
	v.log = func() slog.Value { return slog.StringValue(redact()) }
	v.secret = true
	return v
}

// Bool binds a boolean; a flag without a value means true.
func Bool(p *bool) Value {
	v := Scalar(p, parseBool, strconv.FormatBool)
	v.log = func() slog.Value { return slog.BoolValue(*p) }
	v.isBool = true
	return v
}

// Int binds an integer.
func Int(p *int) Value {
	v := Scalar(p, parseInt, strconv.Itoa)
	v.log = func() slog.Value { return slog.IntValue(*p) }
	return v
}

// Duration binds a time.Duration (90s, 2m, 12h).
func Duration(p *time.Duration) Value { return Scalar(p, parseDuration, time.Duration.String) }

// Level binds a log level (ParseLevel).
func Level(p *slog.Level) Value { return Scalar(p, ParseLevel, FormatLevel) }

// parseBool reads true/false (and 1/0, t/f as strconv does).
func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, fmt.Errorf("invalid value %q: want true or false", s)
	}
	return b, nil
}

// parseInt reads a decimal integer.
func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid value %q: want an integer", s)
	}
	return n, nil
}

// parseDuration reads a Go duration.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid value %q: want a duration such as 90s, 2m or 12h", s)
	}
	return d, nil
}

// ParseLevel is every binary's log-level parser: debug, info, warn (or
// warning) and error, in any case; empty means info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}

// FormatLevel writes a level the way ParseLevel reads it.
func FormatLevel(l slog.Level) string { return strings.ToLower(l.String()) }

// Secret is a string that never prints: fmt, slog and JSON show
// "[REDACTED]" (or "" when unset) instead of the value.
type Secret string

// Redacted is what a set secret shows instead of its value.
const Redacted = "[REDACTED]"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer so %#v does not leak either.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Reveal returns the secret value; call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }
