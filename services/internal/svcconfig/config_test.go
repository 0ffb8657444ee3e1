package svcconfig_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/services/internal/svcconfig"
	"github.com/gatewarden/gatewarden/services/internal/svctest"
)

const hmacSecret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t!" // 35 bytes

func writeHMAC(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "hmac")
	if err := os.WriteFile(f, []byte(hmacSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	a := svctest.NewIssuer(t, "https://a.test")
	b := svctest.NewIssuer(t, "https://b.test")
	hmac := "iss=https://h.test,hmac-file=" + writeHMAC(t)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		listen   string
		audience string
		leeway   time.Duration
		level    slog.Level
		shutdown time.Duration
		issuers  []string
	}{
		{
			name: "defaults", args: []string{"--issuer", a.Spec()},
			listen: ":8080", audience: "svc", leeway: 30 * time.Second, level: slog.LevelInfo, shutdown: 15 * time.Second,
			issuers: []string{"https://a.test"},
		},
		{
			name: "env only",
			env: map[string]string{
				"LISTEN_ADDR": "127.0.0.1:9000", "JWT_AUDIENCE": "other", "JWT_ISSUERS": a.Spec() + ";" + hmac + ";",
				"JWT_LEEWAY": "5s", "LOG_LEVEL": "debug", "SHUTDOWN_TIMEOUT": "2s",
			},
			listen: "127.0.0.1:9000", audience: "other", leeway: 5 * time.Second, level: slog.LevelDebug, shutdown: 2 * time.Second,
			issuers: []string{"https://a.test", "https://h.test"},
		},
		{
			name: "flags win over env",
			args: []string{"--listen", ":7000", "--audience", "flagged", "--issuer", b.Spec(), "--leeway", "1s", "--log-level", "error", "--shutdown-timeout", "1m"},
			env: map[string]string{
				"LISTEN_ADDR": "127.0.0.1:9000", "JWT_AUDIENCE": "other", "JWT_ISSUERS": a.Spec(),
				"JWT_LEEWAY": "5s", "LOG_LEVEL": "debug", "SHUTDOWN_TIMEOUT": "2s",
			},
			listen: ":7000", audience: "flagged", leeway: time.Second, level: slog.LevelError, shutdown: time.Minute,
			issuers: []string{"https://b.test"},
		},
		{
			name:   "repeated --issuer",
			args:   []string{"--issuer", a.Spec(), "--issuer", b.Spec()},
			listen: ":8080", audience: "svc", leeway: 30 * time.Second, level: slog.LevelInfo, shutdown: 15 * time.Second,
			issuers: []string{"https://a.test", "https://b.test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := svcconfig.Load("svc", "svc", tt.args, svctest.MapEnv(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			var iss []string
			for _, ic := range cfg.Issuers {
				iss = append(iss, ic.Issuer)
			}
			if cfg.Listen != tt.listen || cfg.Audience != tt.audience || cfg.Leeway != tt.leeway ||
				cfg.LogLevel != tt.level || cfg.ShutdownTimeout != tt.shutdown || strings.Join(iss, " ") != strings.Join(tt.issuers, " ") {
				t.Errorf("got %+v issuers %v", cfg, iss)
			}
		})
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SHUTDOWN_TIMEOUT": "-1s", "JWT_ISSUERS": "iss=x,pem=/does/not/exist;iss=y,colour=blue,hmac-file=/nope",
		"DATABASE_URL": "mysql://db/catalog"}
	args := []string{"--listen", "localhost", "--audience", " ", "--leeway", "6m", "--log-level", "chatty"}
	_, err := svcconfig.Load("svc", "svc", args, svctest.MapEnv(env), &bytes.Buffer{})
	if !errors.Is(err, svcconfig.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`--listen "localhost"`,
		"--audience is empty",
		"--leeway 6m0s is above the maximum",
		`unknown log level "chatty"`,
		"--shutdown-timeout -1s must be positive",
		"issuer #1 (env JWT_ISSUERS): ", "/does/not/exist",
		"issuer #2 (env JWT_ISSUERS): ", `unknown key "colour"`,
		"database (env DATABASE_URL): database: invalid URL",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestLoadVerifierProblems(t *testing.T) {
	t.Parallel()
	a := svctest.NewIssuer(t, "https://a.test")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no issuer", args: nil, want: "no trusted issuer"},
		{name: "negative leeway", args: []string{"--issuer", a.Spec(), "--leeway", "-1s"}, want: "leeway -1s is negative"},
		{name: "same issuer twice", args: []string{"--issuer", a.Spec(), "--issuer", a.Spec()}, want: "configured twice"},
		{name: "bad env duration", args: []string{"--issuer", a.Spec(), "--leeway=x"}, want: "invalid value"},
		{name: "stray argument", args: []string{"--issuer", a.Spec(), "extra"}, want: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := svcconfig.Load("svc", "svc", tt.args, svctest.MapEnv(nil), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestSummaryAndLogValueRedact(t *testing.T) {
	t.Parallel()
	a := svctest.NewIssuer(t, "https://a.test")
	specs := "iss=https://h.test,hmac-file=" + writeHMAC(t) + ",aud=special;" +
		a.Spec() + ";iss=https://j.test,jwks=https://j.test/jwks,algs=RS256"
	env := map[string]string{"JWT_ISSUERS": specs, "DATABASE_URL": "postgres://cat:db-s3cret@db:5432/catalog"}
	cfg, err := svcconfig.Load("svc", "svc", []string{"--check-config"}, svctest.MapEnv(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.CheckConfig {
		t.Error("CheckConfig not set")
	}
	sum := cfg.Summary()
	for _, want := range []string{
		"issuer: https://h.test; aud: special; keys: hmac (secret redacted)",
		"issuer: https://a.test; aud: svc (default); keys: pem (1 key files); algs: implied by keys",
		"issuer: https://j.test; aud: svc (default); keys: jwks https://j.test/jwks; algs: RS256",
		"database: postgres://cat:xxxxx@db:5432/catalog (postgres)",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "config", cfg)
	for name, out := range map[string]string{"summary": sum, "log": logs.String()} {
		if strings.Contains(out, hmacSecret) || strings.Contains(out, "czNjcjN0") || strings.Contains(out, "db-s3cret") { // base64 of the secret's start
			t.Errorf("%s reveals the HMAC secret:\n%s", name, out)
		}
	}
	if !strings.Contains(logs.String(), "https://j.test/jwks") {
		t.Errorf("log lacks the issuers:\n%s", logs.String())
	}
}
