package httpkit

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type testFlags struct {
	listen  string
	timeout time.Duration
	debug   bool
	issuers listFlag
	secret  string
}

func newTestFlagSet() (*flag.FlagSet, *testFlags) {
	var f testFlags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.listen, "listen", ":8080", "")
	fs.DurationVar(&f.timeout, "shutdown-timeout", 15*time.Second, "")
	fs.BoolVar(&f.debug, "dev-mode", false, "")
	fs.Var(&f.issuers, "issuer", "")
	fs.StringVar(&f.secret, "client-secret", "", "")
	return fs, &f
}

func mapLookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestEnvFlagsPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want testFlags
	}{
		{name: "defaults", want: testFlags{listen: ":8080", timeout: 15 * time.Second}},
		{
			name: "env over default",
			env:  map[string]string{"LISTEN_ADDR": ":9000", "APP_SHUTDOWN_TIMEOUT": "3s", "APP_DEV_MODE": "true"},
			want: testFlags{listen: ":9000", timeout: 3 * time.Second, debug: true},
		},
		{
			name: "flag over env",
			args: []string{"--listen", ":7000", "--shutdown-timeout=1s"},
			env:  map[string]string{"LISTEN_ADDR": ":9000", "APP_SHUTDOWN_TIMEOUT": "3s"},
			want: testFlags{listen: ":7000", timeout: time.Second},
		},
		{
			name: "empty env is unset",
			env:  map[string]string{"LISTEN_ADDR": "", "APP_SHUTDOWN_TIMEOUT": ""},
			want: testFlags{listen: ":8080", timeout: 15 * time.Second},
		},
		{
			name: "split list env",
			env:  map[string]string{"ISSUERS": "a; b;;c"},
			want: testFlags{listen: ":8080", timeout: 15 * time.Second, issuers: listFlag{"a", "b", "c"}},
		},
		{
			name: "repeated flag replaces list env entirely",
			args: []string{"--issuer", "x", "--issuer", "y"},
			env:  map[string]string{"ISSUERS": "a;b"},
			want: testFlags{listen: ":8080", timeout: 15 * time.Second, issuers: listFlag{"x", "y"}},
		},
		{
			name: "disabled variable ignored",
			env:  map[string]string{"APP_CLIENT_SECRET": "s3cret"},
			want: testFlags{listen: ":8080", timeout: 15 * time.Second},
		},
	}
	ef := EnvFlags{
		Prefix: "APP_",
		Names:  map[string]string{"listen": "LISTEN_ADDR", "issuer": "ISSUERS", "client-secret": "-"},
		Split:  map[string]string{"issuer": ";"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs, got := newTestFlagSet()
			e := ef
			e.Lookup = mapLookup(tt.env)
			if err := e.Parse(fs, tt.args); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, *got, cmp.AllowUnexported(testFlags{})); d != "" {
				t.Errorf("flags (-want +got):\n%s", d)
			}
		})
	}
}

func TestEnvFlagsReportsEveryBadVariable(t *testing.T) {
	t.Parallel()
	fs, _ := newTestFlagSet()
	ef := EnvFlags{Prefix: "APP_", Lookup: mapLookup(map[string]string{
		"APP_SHUTDOWN_TIMEOUT": "soon-ish-secret",
		"APP_DEV_MODE":         "maybe",
	})}
	err := ef.Parse(fs, nil)
	if err == nil {
		t.Fatal("no error for bad variables")
	}
	msg := err.Error()
	for _, want := range []string{"APP_SHUTDOWN_TIMEOUT", "--shutdown-timeout", "APP_DEV_MODE", "--dev-mode"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %s", msg, want)
		}
	}
	if strings.Contains(msg, "soon-ish-secret") {
		t.Errorf("error echoes the value: %q", msg)
	}
}

func TestEnvFlagsBadFlag(t *testing.T) {
	t.Parallel()
	fs, _ := newTestFlagSet()
	err := EnvFlags{Lookup: mapLookup(nil)}.Parse(fs, []string{"--nope"})
	if err == nil || errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want unknown flag error", err)
	}
}

func TestEnvFlagsEnvNameAndUsage(t *testing.T) {
	t.Parallel()
	ef := EnvFlags{Prefix: "AUTHPROXY_", Names: map[string]string{"listen": "LISTEN_ADDR", "check-config": "-"}}
	for flagName, want := range map[string]string{
		"session-lifetime": "AUTHPROXY_SESSION_LIFETIME",
		"listen":           "LISTEN_ADDR",
		"check-config":     "",
	} {
		if got := ef.EnvName(flagName); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flagName, got, want)
		}
	}
	fs, _ := newTestFlagSet()
	var out strings.Builder
	fs.SetOutput(&out)
	ef.Usage(fs, "usage: t [flags]")()
	for _, want := range []string{"usage: t", "-shutdown-timeout", "AUTHPROXY_SHUTDOWN_TIMEOUT", "LISTEN_ADDR"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}
