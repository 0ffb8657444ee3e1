// Package options is the one configuration loader of gatewarden's binaries
// (authproxy, catalog, inventory, the dev IdP).
//
// A binary describes its settings once, as a Set: a table of Options, each
// with its flag name, environment variable, config-file key, default, usage
// text, list separator, and a typed Value bound to a field of the binary's
// configuration struct. Everything else is derived from that table:
//
//   - Load layers the values: default < YAML file (--config, for sets with
//     ConfigFile) < environment variable < command-line flag. An environment
//     variable that is set but empty counts as unset. Every bad value is
//     reported at once, each naming its option and where the value came from;
//     a secret's value is never echoed.
//   - --help lists every flag with its environment variable and default.
//   - --check-config (Report) prints "config ok" and Summary, the effective
//     configuration with the source of each value and secrets redacted, or
//     the problems, and exits 0 or 2.
//   - LogValue gives slog the same view, secrets redacted, so a new option
//     needs no hand-kept log list.
//   - Markdown renders the table for the README; the readme subpackage
//     checks and rewrites the README's copy.
//
// The binary's own cross-field checks (Validate) add their problems with
// Problemf; Invalid joins them with the loader's into one error.
package options
