package options_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/shared/options"
)

// testConfig is a binary's configuration as the tests bind it.
type testConfig struct {
	Listen   string
	Token    options.Secret
	Debug    bool
	Port     int
	Timeout  time.Duration
	Level    slog.Level
	Hosts    []string
	Issuers  []string
	Prefixes []netip.Prefix
	check    bool
	sources  map[string]string
}

func (c *testConfig) set(configFile bool) options.Set {
	return options.Set{
		Program: "t", EnvPrefix: "T_", ConfigFile: configFile,
		Options: []options.Option{
			{Name: "listen", Env: "LISTEN_ADDR", Default: ":8080", Usage: "address", Value: options.String(&c.Listen)},
			{Name: "token", Usage: "a secret", Value: options.SecretString(&c.Token)},
			{Name: "debug", Usage: "debug mode", Value: options.Bool(&c.Debug)},
			{Name: "port", Default: "1", Usage: "a number", Value: options.Int(&c.Port)},
			{Name: "timeout", Default: "15s", DocDefault: "15 seconds", Usage: "a duration", Value: options.Duration(&c.Timeout)},
			{Name: "log-level", Default: "info", Usage: "level", Value: options.Level(&c.Level)},
			{Name: "hosts", Usage: "hosts | names", Value: options.Strings(&c.Hosts)},
			{Name: "issuer", Env: "ISSUERS", Sep: ";", Repeatable: true, Usage: "issuers", Value: options.Strings(&c.Issuers)},
			{Name: "prefixes", Default: "127.0.0.1/32", Usage: "CIDRs", Value: options.List(&c.Prefixes, func(s string) (netip.Prefix, error) {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return p, fmt.Errorf("%q is not a CIDR", s)
				}
				return p, nil
			}, netip.Prefix.String)},
		},
	}
}

func load(t *testing.T, configFile bool, args []string, env map[string]string) (*testConfig, options.Loaded, error) {
	t.Helper()
	c := &testConfig{}
	l, err := c.set(configFile).Load(args, func(k string) string { return env[k] }, io.Discard)
	c.check, c.sources = l.CheckConfig, l.Sources
	return c, l, err
}

func (c *testConfig) CheckOnly() bool { return c.check }
func (c *testConfig) Summary() string { return c.set(true).Summary(c.sources) }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadLayers(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "listen: \":1111\"\nport: 2\ntimeout: 3s\nhosts: [a, b]\nissuer: \"x;y\"\ndebug: true\ntoken: null\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want testConfig
		src  map[string]string
	}{
		{
			name: "defaults",
			want: testConfig{Listen: ":8080", Port: 1, Timeout: 15 * time.Second, Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
			src:  map[string]string{"listen": "default", "port": "default", "timeout": "default", "log-level": "default", "prefixes": "default"},
		},
		{
			name: "file over default",
			args: []string{"--config", file},
			want: testConfig{Listen: ":1111", Port: 2, Timeout: 3 * time.Second, Debug: true, Hosts: []string{"a", "b"}, Issuers: []string{"x", "y"}, Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
			src:  map[string]string{"listen": "file " + file, "port": "file " + file, "timeout": "file " + file, "log-level": "default", "hosts": "file " + file, "issuer": "file " + file, "debug": "file " + file, "prefixes": "default"},
		},
		{
			name: "env over file, file named by env, empty env unset",
			env:  map[string]string{"T_CONFIG": file, "LISTEN_ADDR": ":2222", "T_PORT": "", "ISSUERS": " p; ;q ", "T_TOKEN": "s3", "T_LOG_LEVEL": "WARN"},
			want: testConfig{Listen: ":2222", Port: 2, Timeout: 3 * time.Second, Debug: true, Hosts: []string{"a", "b"}, Issuers: []string{"p", "q"}, Token: "s3", Level: slog.LevelWarn, Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
			src:  map[string]string{"listen": "env LISTEN_ADDR", "port": "file " + file, "timeout": "file " + file, "log-level": "env T_LOG_LEVEL", "hosts": "file " + file, "issuer": "env ISSUERS", "debug": "file " + file, "token": "env T_TOKEN", "prefixes": "default"},
		},
		{
			name: "flag over env; repeated list flag adds up, other flags: last wins",
			args: []string{"--listen=:3333", "--listen", ":4444", "--issuer", "f1", "--issuer=f2;f3", "--hosts=h1", "--hosts=h2,h3", "--debug=false", "--prefixes=10.0.0.0/8"},
			env:  map[string]string{"LISTEN_ADDR": ":2222", "ISSUERS": "e1", "T_DEBUG": "true", "T_HOSTS": "e"},
			want: testConfig{Listen: ":4444", Port: 1, Timeout: 15 * time.Second, Issuers: []string{"f1", "f2", "f3"}, Hosts: []string{"h2", "h3"}, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			src:  map[string]string{"listen": "flag --listen", "port": "default", "timeout": "default", "log-level": "default", "hosts": "flag --hosts", "issuer": "flag --issuer", "debug": "flag --debug", "prefixes": "flag --prefixes"},
		},
		{
			name: "bool flag without value",
			args: []string{"--debug"},
			want: testConfig{Listen: ":8080", Port: 1, Timeout: 15 * time.Second, Debug: true, Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
			src:  map[string]string{"listen": "default", "port": "default", "timeout": "default", "log-level": "default", "debug": "flag --debug", "prefixes": "default"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, l, err := load(t, true, tt.args, tt.env)
			if err != nil || len(l.Problems) > 0 {
				t.Fatalf("Load: %v %v", err, l.Problems)
			}
			if d := cmp.Diff(tt.want, *c, cmp.AllowUnexported(testConfig{}), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
				cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".sources" || p.Last().String() == ".check" }, cmp.Ignore())); d != "" {
				t.Errorf("values (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.src, l.Sources); d != "" {
				t.Errorf("sources (-want +got):\n%s", d)
			}
		})
	}
}

// TestEveryProblemAtOnce: each bad value is a problem naming its option
// and source; a secret's value is never echoed; parsing goes on past
// problems.
func TestEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "timeout: soon\nlisten: {a: b}\nlistn: typo\nhosts: [[x]]\n")
	c, l, err := load(t, true,
		[]string{"--config=" + file, "--port=many", "--prefixes=10.0.0.0/8,bad,worse", "--log-level=loud"},
		map[string]string{"T_DEBUG": "maybe-SECRET-ish"})
	if err != nil {
		t.Fatal(err)
	}
	err = options.Invalid(append(l.Problems, options.Problemf("port: a check of the binary's own"))...)
	if !errors.Is(err, options.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	want := "invalid configuration:\n" +
		"  config " + file + `: hosts: list elements must be scalars` + "\n" +
		"  config " + file + `: listen: must be a scalar or a list, not a mapping` + "\n" +
		"  config " + file + `: unknown key "listn"` + "\n" +
		`  debug (env T_DEBUG): invalid value "maybe-SECRET-ish": want true or false` + "\n" +
		`  port (flag --port): invalid value "many": want an integer` + "\n" +
		`  timeout (file ` + file + `): invalid value "soon": want a duration such as 90s, 2m or 12h` + "\n" +
		`  log-level (flag --log-level): unknown log level "loud" (want debug, info, warn or error)` + "\n" +
		`  prefixes #2 (flag --prefixes): "bad" is not a CIDR` + "\n" +
		`  prefixes #3 (flag --prefixes): "worse" is not a CIDR` + "\n" +
		`  port: a check of the binary's own`
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("message (-want +got):\n%s", d)
	}
	if !l.Failed("prefixes") || l.Failed("listen") {
		t.Errorf("Failed(prefixes) = %v, Failed(listen) = %v", l.Failed("prefixes"), l.Failed("listen"))
	}
	if got := c.Prefixes; len(got) != 1 || got[0].String() != "10.0.0.0/8" {
		t.Errorf("the good list elements should stay: %v", got)
	}
}

// TestSecretNeverEchoed: a secret shows as [REDACTED] in summaries, logs
// and fmt, and a secret that fails to parse is reported without its value.
func TestSecretNeverEchoed(t *testing.T) {
	t.Parallel()
	var (
		key, unset options.Secret
		pin        int
	)
	set := options.Set{Program: "t", Options: []options.Option{
		{Name: "key", Usage: "k", Value: options.SecretString(&key)},
		{Name: "unset", Usage: "k", Value: options.SecretString(&unset)},
		{Name: "pin", Usage: "a secret number", Value: options.Hidden(options.Int(&pin))},
		{Name: "plain", Usage: "not secret", Value: options.Int(new(int))},
	}}
	l, err := set.Load([]string{"--key=top-SECRET", "--pin=pin-SECRET", "--plain=plain-value"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if key.Reveal() != "top-SECRET" {
		t.Errorf("secret = %q", key.Reveal())
	}
	msg := options.Invalid(l.Problems...).Error()
	want := "invalid configuration:\n" +
		"  pin (flag --pin): invalid value (not shown: it is a secret)\n" +
		`  plain (flag --plain): invalid value "plain-value": want an integer`
	if d := cmp.Diff(want, msg); d != "" {
		t.Errorf("problems (-want +got):\n%s", d)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", set)
	summary := set.Summary(l.Sources)
	out := logs.String() + summary + fmt.Sprintf("%v %+v %#v %s", key, key, key, key)
	if strings.Contains(out, "top-SECRET") || strings.Contains(out, "pin-SECRET") {
		t.Errorf("secret shown:\n%s", out)
	}
	for _, w := range []string{`"key":"[REDACTED]","unset":""`, "key: [REDACTED]  # flag --key\nunset:\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "flag provided but not defined: -nope"},
		{name: "stray argument", args: []string{"extra"}, wantErr: `unexpected arguments ["extra"]`},
		{name: "missing value", args: []string{"--listen"}, wantErr: "flag needs an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := load(t, false, tt.args, nil)
			if !errors.Is(err, options.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrInvalid and %q", err, tt.wantErr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := &testConfig{}
	_, err := c.set(true).Load([]string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, options.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		"usage: t [flags]",
		"--listen value  (env LISTEN_ADDR; default \":8080\")\n      address\n",
		"--token value  (env T_TOKEN; secret)",
		"--debug  (env T_DEBUG)\n",
		"--issuer value  (env ISSUERS; list separated by \";\", repeatable)",
		"--config value  (env T_CONFIG)",
		"--check-config\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSummaryAndLogValue(t *testing.T) {
	t.Parallel()
	c, l, err := load(t, true, []string{"--token=tok-SECRET", "--hosts=a,b", "--check-config"}, map[string]string{"T_PORT": "7"})
	if err != nil || len(l.Problems) > 0 || !l.CheckConfig {
		t.Fatalf("Load: %v %v check=%v", err, l.Problems, l.CheckConfig)
	}
	want := `listen: :8080  # default
token: [REDACTED]  # flag --token
debug: false
port: 7  # env T_PORT
timeout: 15s  # default
log-level: info  # default
hosts: a  # flag --hosts
hosts: b  # flag --hosts
issuer:
prefixes: 127.0.0.1/32  # default
`
	if d := cmp.Diff(want, c.Summary()); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", c.set(false))
	wantLog := `"config":{"listen":":8080","token":"[REDACTED]","debug":false,"port":7,"timeout":"15s","log_level":"info","hosts":["a","b"],"issuer":[],"prefixes":["127.0.0.1/32"]}`
	if !strings.Contains(logs.String(), wantLog) {
		t.Errorf("log lacks %s:\n%s", wantLog, logs.String())
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	valid, _, _ := load(t, false, nil, nil)
	checking, _, _ := load(t, false, []string{"--check-config"}, nil)
	tests := []struct {
		name           string
		cfg            *testConfig
		err            error
		code           int
		stop           bool
		stdout, stderr string
	}{
		{name: "run", cfg: valid, code: options.ExitOK},
		{name: "help", err: options.ErrHelp, code: options.ExitOK, stop: true},
		{name: "invalid", err: options.Invalid(options.Problemf("listen: required")), code: options.ExitConfig, stop: true, stderr: "t: invalid configuration:\n  listen: required\n"},
		{name: "check", cfg: checking, code: options.ExitOK, stop: true, stdout: "config ok\nlisten: :8080  # default\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code, stop := options.Report("t", tt.cfg, tt.err, &stdout, &stderr)
			if code != tt.code || stop != tt.stop || !strings.HasPrefix(stdout.String(), tt.stdout) || stderr.String() != tt.stderr {
				t.Errorf("Report = %d %v, stdout %q, stderr %q", code, stop, stdout.String(), stderr.String())
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	c := &testConfig{}
	set := c.set(false)
	set.Options = set.Options[:3]
	want := "| flag | env | default | meaning |\n" +
		"| --- | --- | --- | --- |\n" +
		"| `--listen` | `LISTEN_ADDR` | `:8080` | address |\n" +
		"| `--token` (secret) | `T_TOKEN` |  | a secret |\n" +
		"| `--debug` | `T_DEBUG` |  | debug mode |\n" +
		"| `--check-config` |  |  | validate the configuration, print it (secrets redacted) with where each value came from, and exit: 0 ok, 2 invalid |\n"
	if d := cmp.Diff(want, set.Markdown()); d != "" {
		t.Errorf("markdown (-want +got):\n%s", d)
	}
	full := c.set(true).Markdown()
	for _, w := range []string{
		"| flag | env | file key | default | meaning |",
		"| `--timeout` | `T_TIMEOUT` | `timeout` | 15 seconds | a duration |",
		"| `--hosts` (`,`-separated list) | `T_HOSTS` | `hosts` |  | hosts \\| names |",
		"| `--issuer` (`;`-separated list, repeatable) | `ISSUERS` | `issuer` |",
		"| `--config` | `T_CONFIG` |  |  | YAML configuration file",
	} {
		if !strings.Contains(full, w) {
			t.Errorf("markdown lacks %q:\n%s", w, full)
		}
	}
}

func TestCheckTable(t *testing.T) {
	t.Parallel()
	var s string
	var l []string
	tests := []struct {
		name string
		opts []options.Option
		want string
	}{
		{name: "bad name", opts: []options.Option{{Name: "Listen", Value: options.String(&s)}}, want: "is not a flag name"},
		{name: "twice", opts: []options.Option{{Name: "a", Value: options.String(&s)}, {Name: "a", Env: "B", Value: options.String(&s)}}, want: "defined twice"},
		{name: "built-in", opts: []options.Option{{Name: "check-config", Value: options.String(&s)}}, want: "defined twice"},
		{name: "shared env", opts: []options.Option{{Name: "a", Env: "X", Value: options.String(&s)}, {Name: "b", Env: "X", Value: options.String(&s)}}, want: "share the variable X"},
		{name: "no value", opts: []options.Option{{Name: "a"}}, want: "has no Value"},
		{name: "sep on scalar", opts: []options.Option{{Name: "a", Sep: ";", Value: options.String(&s)}}, want: "Sep and Repeatable are for lists"},
		{name: "ok", opts: []options.Option{{Name: "a", Value: options.String(&s)}, {Name: "b", Sep: ";", Repeatable: true, Value: options.Strings(&l)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := options.Set{Program: "t", Options: tt.opts}.Check()
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "": slog.LevelInfo, " warn ": slog.LevelWarn, "Warning": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := options.ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got, _ := options.ParseLevel(options.FormatLevel(want)); got != want {
			t.Errorf("FormatLevel(%v) does not read back", want)
		}
	}
	for _, in := range []string{"loud", "DEBUG-4", "trace"} {
		if _, err := options.ParseLevel(in); err == nil {
			t.Errorf("ParseLevel(%q) accepted", in)
		}
	}
}

func TestUnbound(t *testing.T) {
	t.Parallel()
	type inner struct{ A string }
	type cfg struct {
		In      inner // same address as In.A: bound only if In itself is
		Name    string
		Extra   int
		Derived []byte
		hidden  string
	}
	var c cfg
	set := options.Set{Program: "x", Options: []options.Option{
		{Name: "a", Value: options.String(&c.In.A)},
		{Name: "name", Value: options.String(&c.Name)},
	}}
	if diff := cmp.Diff([]string{"In", "Extra"}, set.Unbound(&c, "Derived")); diff != "" {
		t.Fatalf("Unbound (-want +got):\n%s", diff)
	}
	_ = c.hidden
	if got := set.Unbound(c); len(got) != 1 || !strings.Contains(got[0], "pointer to a struct") {
		t.Fatalf("Unbound(non-pointer) = %v, want one problem naming the pointer", got)
	}
}
