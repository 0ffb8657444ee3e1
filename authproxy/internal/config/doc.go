// Package config loads, validates and describes authproxy's configuration.
//
// Values come from three layers, highest first: command-line flags, environment
// variables (AUTHPROXY_<UPPER_SNAKE>), and an optional YAML file named by
// --config (or AUTHPROXY_CONFIG) whose keys are the flag names in snake_case.
// Unknown file keys are rejected. Load reports every problem at once
// (errors.Join) so an operator fixes a broken deployment in one round, and
// Config.LogValue never prints a secret.
package config
