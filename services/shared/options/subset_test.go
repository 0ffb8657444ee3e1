package options_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/shared/options"
)

// serverTable is a binary's table; its "db-" options are what a subcommand
// reads.
type serverTable struct {
	PublicURL string
	DBAddr    string
	DBPass    options.Secret
}

func (c *serverTable) set() options.Set {
	return options.Set{
		Program: "srv", EnvPrefix: "S_", ConfigFile: true,
		Options: []options.Option{
			{Name: "public-url", Usage: "required by the server", Value: options.String(&c.PublicURL)},
			{Name: "db-addr", Default: "localhost:1", Usage: "database", Value: options.String(&c.DBAddr)},
			{Name: "db-pass", Usage: "password", Value: options.SecretString(&c.DBPass)},
		},
	}
}

// subcommand is the server's table cut to its "db-" options, plus a
// command argument.
func subcommand(c *serverTable, user *string) options.Set {
	s := c.set().Subset(func(o options.Option) bool { return strings.HasPrefix(o.Name, "db-") })
	s.Program, s.Synopsis = "srv ctl", "usage: srv ctl --user U [flags]\n\nControls the server."
	s.Options = append([]options.Option{{Name: "user", FlagOnly: true, Usage: "whose", Value: options.String(user)}}, s.Options...)
	return s
}

// TestSubset: a subcommand reads its part of the server's configuration
// from the same flags, variables and file (the file's other keys are
// ignored, unknown ones still rejected); its FlagOnly arguments are flags
// only.
func TestSubset(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	serverFile := file("server.yaml", "public_url: https://x\ndb_addr: db:2\n")
	typoFile := file("typo.yaml", "db_adr: db:2\n")
	userFile := file("user.yaml", "user: bob\n")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    serverTable
		user    string
		src     map[string]string
		problem string // the error's message; "" = none
	}{
		{
			name: "the server's file serves; its other keys are ignored",
			args: []string{"--user=alice", "--config", serverFile},
			want: serverTable{DBAddr: "db:2"}, user: "alice",
			src: map[string]string{"user": "flag --user", "db-addr": "file " + serverFile},
		},
		{
			name: "variables as for the server; a command argument has none, the left-out options are not read",
			args: []string{"--user=alice"},
			env:  map[string]string{"S_DB_PASS": "pw", "S_USER": "mallory", "S_PUBLIC_URL": "https://x"},
			want: serverTable{DBAddr: "localhost:1", DBPass: "pw"}, user: "alice",
			src: map[string]string{"user": "flag --user", "db-addr": "default", "db-pass": "env S_DB_PASS"},
		},
		{
			name: "a key no option of the server has is still rejected", args: []string{"--config", typoFile},
			want: serverTable{DBAddr: "localhost:1"}, src: map[string]string{"db-addr": "default"},
			problem: "config " + typoFile + `: unknown key "db_adr"`,
		},
		{
			name: "a command argument has no file key", args: []string{"--config", userFile},
			want: serverTable{DBAddr: "localhost:1"}, src: map[string]string{"db-addr": "default"},
			problem: "config " + userFile + `: unknown key "user"`,
		},
		{
			name: "the left-out options are no flags", args: []string{"--public-url=https://x"},
			problem: "invalid configuration:\n  flag provided but not defined: -public-url",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c serverTable
			var user string
			l, err := subcommand(&c, &user).Load(tt.args, func(k string) string { return tt.env[k] }, &bytes.Buffer{})
			if err == nil {
				err = errors.Join(l.Problems...)
			}
			if got := errString(err); got != tt.problem {
				t.Fatalf("problems %q; want %q", got, tt.problem)
			}
			if d := cmp.Diff(tt.want, c); d != "" {
				t.Errorf("values (-want +got):\n%s", d)
			}
			if user != tt.user {
				t.Errorf("user = %q; want %q", user, tt.user)
			}
			if d := cmp.Diff(tt.src, l.Sources); tt.src != nil && d != "" {
				t.Errorf("sources (-want +got):\n%s", d)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSubsetUsage: the Synopsis replaces the first line; a command
// argument shows no variable; the left-out options are not listed.
func TestSubsetUsage(t *testing.T) {
	t.Parallel()
	var c serverTable
	var user string
	var out bytes.Buffer
	subcommand(&c, &user).WriteUsage(&out)
	want := `usage: srv ctl --user U [flags]

Controls the server.

Each flag may also be given by its environment variable where one is shown (a flag beats its variable, which beats the --config file, which beats the default; an empty variable counts as unset).

  --user value
      whose
  --db-addr value  (env S_DB_ADDR; default "localhost:1")
      database
  --db-pass value  (env S_DB_PASS; secret)
      password
  --config value  (env S_CONFIG)
      YAML configuration file; keys are the flag names in snake case, unknown keys are rejected
  --check-config
      validate the configuration, print it (secrets redacted) with where each value came from, and exit: 0 ok, 2 invalid
`
	if d := cmp.Diff(want, out.String()); d != "" {
		t.Errorf("usage (-want +got):\n%s", d)
	}
}

// TestFlagOnlyHasNoVariable: a FlagOnly option given a variable is a
// mistake in the table.
func TestFlagOnlyHasNoVariable(t *testing.T) {
	t.Parallel()
	var v string
	s := options.Set{Program: "p", Options: []options.Option{{Name: "user", Env: "USER", FlagOnly: true, Value: options.String(&v)}}}
	err := s.Check()
	if err == nil || !strings.Contains(err.Error(), `option "user": a FlagOnly option has no variable`) {
		t.Fatalf("Check = %v; want the FlagOnly variable named", err)
	}
}
