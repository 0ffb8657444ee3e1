// Package config loads, validates and describes authproxy's configuration.
//
// Its option table (Config.options, a services/shared/options Set) is the
// one description of every setting: values come from four layers, highest
// first: command-line flags, environment variables (AUTHPROXY_<UPPER_SNAKE>),
// an optional YAML file named by --config (or AUTHPROXY_CONFIG) whose keys
// are the flag names in snake_case, and the defaults. Unknown file keys are
// rejected. Load reports every problem at once so an operator fixes a broken
// deployment in one round; Config.LogValue and Config.Summary
// (--check-config) come from the same table and never print a secret, and
// the README's table is rendered from it (make docs).
package config
