package svcmain_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/internal/svctest"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
)

// slowService has one business route that blocks until release is closed.
func slowService(started chan<- struct{}, release <-chan struct{}) svcmain.Service {
	return svcmain.Service{
		Name:            "slow",
		DefaultAudience: "slow",
		Handler: func(d svcmain.Deps) (http.Handler, error) {
			r, authed, err := svcmain.Router(d)
			if err != nil {
				return nil, err
			}
			authed.GET("/slow", func(c *gin.Context) {
				close(started)
				<-release
				c.JSON(http.StatusOK, gin.H{"done": true})
			})
			return r, nil
		},
	}
}

func TestMainFinishesInFlightRequestOnCancel(t *testing.T) {
	t.Parallel()
	iss := svctest.NewIssuer(t, "https://idp.test")
	started, release := make(chan struct{}), make(chan struct{})
	svc := slowService(started, release)
	run := func(ctx context.Context, p svcmain.Process) int { return svcmain.Main(ctx, svc, p) }
	srv := svctest.Start(t, run, nil, map[string]string{"JWT_ISSUERS": iss.Spec(), "LOG_LEVEL": "debug"})

	if resp := svctest.Get(t, http.DefaultClient, srv.URL+"/readyz", ""); resp.Status != http.StatusOK {
		t.Fatalf("readyz = %d", resp.Status)
	}
	if resp := svctest.Get(t, http.DefaultClient, srv.URL+"/slow", ""); resp.Status != http.StatusUnauthorized {
		t.Fatalf("business route without token = %d, want 401", resp.Status)
	}
	token := iss.Token(t, "slow", "ada", nil)
	got := make(chan svctest.Response, 1)
	go func() { got <- svctest.Get(t, http.DefaultClient, srv.URL+"/slow", token) }()
	<-started

	code := make(chan int, 1)
	go func() { code <- srv.Stop() }() // SIGTERM
	// The listener closes at the start of shutdown; wait for that, then let
	// the in-flight request finish.
	for {
		c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			break
		}
		c.Close()
	}
	close(release)
	if resp := <-got; resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"done":true`) {
		t.Fatalf("in-flight request = %d %s", resp.Status, resp.Body)
	}
	if c := <-code; c != svcmain.ExitOK {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", c, srv.Stderr.String())
	}

	logs := srv.Stderr.String()
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["service"] != "slow" {
			t.Errorf("log line without service: %s", line)
		}
	}
	if strings.Contains(logs, strings.Split(token, ".")[2]) {
		t.Error("token in logs")
	}
	for _, want := range []string{`"msg":"starting"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	t.Parallel()
	iss := svctest.NewIssuer(t, "https://idp.test")
	busy, err := httpkit.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyAddr := busy.Addr().String()

	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stdout []string
		stderr []string
	}{
		{
			name: "check-config ok", args: []string{"--check-config", "--issuer", iss.Spec()},
			code:   svcmain.ExitOK,
			stdout: []string{"config ok\n", "listen: :8080", "audience: slow", "issuer: https://idp.test", "pem (1 key files)"},
		},
		{
			name: "check-config with problems", args: []string{"--check-config", "--listen", "nohost", "--log-level", "loud"},
			code:   svcmain.ExitConfig,
			stderr: []string{"--listen", "--log-level", "no trusted issuer"},
		},
		{
			name: "bad config without check-config", env: map[string]string{"JWT_LEEWAY": "forever"},
			args:   []string{"--issuer", iss.Spec()},
			code:   svcmain.ExitConfig,
			stderr: []string{"JWT_LEEWAY"},
		},
		{
			name: "unknown flag", args: []string{"--nope"},
			code: svcmain.ExitConfig, stderr: []string{"nope"},
		},
		{
			name: "help", args: []string{"-h"},
			code: svcmain.ExitOK, stderr: []string{"usage: slow", "JWT_ISSUERS"},
		},
		{
			name: "address in use", args: []string{"--listen", busyAddr, "--issuer", iss.Spec()},
			code: svcmain.ExitFailure, stderr: []string{busyAddr, "address already in use"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr testkit.LogBuffer
			svc := slowService(make(chan struct{}), nil)
			code := svcmain.Main(context.Background(), svc, svcmain.Process{
				Args: tt.args, LookupEnv: svctest.MapEnv(tt.env), Stdout: &stdout, Stderr: &stderr,
			})
			if code != tt.code {
				t.Fatalf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}

func TestRouterRequiresDeps(t *testing.T) {
	t.Parallel()
	if _, _, err := svcmain.Router(svcmain.Deps{}); err == nil {
		t.Fatal("Router without deps did not fail")
	}
}
