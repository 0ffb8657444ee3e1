package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// closedPort returns 127.0.0.1:PORT with nothing listening on it.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// noDNS is a resolver that never sends a query: every lookup fails as a DNS error.
func noDNS() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no DNS in tests")
		},
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/private", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/hang", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	closed := closedPort(t)

	tests := []struct {
		name       string
		target     string
		want       Result // ElapsedMS and Error ignored
		wantErrSub string
	}{
		{name: "tcp open port", target: "tcp:" + host, want: Result{Outcome: Connected}},
		{name: "tcp closed port", target: "tcp:" + closed, want: Result{Outcome: Refused}, wantErrSub: "refused"},
		{name: "tcp unknown host", target: "tcp:nowhere.invalid:80", want: Result{Outcome: DNSError}, wantErrSub: "nowhere.invalid"},
		{name: "http 200", target: srv.URL + "/ok", want: Result{Outcome: Connected, Status: http.StatusOK}},
		{name: "http 401 is connected", target: srv.URL + "/private", want: Result{Outcome: Connected, Status: http.StatusUnauthorized}},
		{name: "http redirect not followed", target: srv.URL + "/moved", want: Result{Outcome: Connected, Status: http.StatusFound}},
		{name: "http closed port", target: "http://" + closed + "/", want: Result{Outcome: Refused}},
		{name: "http server hangs", target: srv.URL + "/hang", want: Result{Outcome: Timeout}},
		{name: "http unknown host", target: "http://nowhere.invalid/", want: Result{Outcome: DNSError}},
		{name: "https to a plain http server", target: "https://" + host + "/ok", want: Result{Outcome: Error}, wantErrSub: "https"},
	}
	p := NewProber(500*time.Millisecond, noDNS())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := p.Probe(context.Background(), tt.target)
			tt.want.Target = tt.target
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(Result{}, "ElapsedMS", "Error")); diff != "" {
				t.Errorf("Probe(%s) (-want +got):\n%s", tt.target, diff)
			}
			if (got.Error == "") != (tt.want.Outcome == Connected) {
				t.Errorf("error = %q with outcome %s", got.Error, got.Outcome)
			}
			if !strings.Contains(strings.ToLower(got.Error), tt.wantErrSub) {
				t.Errorf("error = %q, want it to mention %q", got.Error, tt.wantErrSub)
			}
			if got.ElapsedMS > 5000 {
				t.Errorf("took %dms with a 500ms timeout", got.ElapsedMS)
			}
		})
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	t.Cleanup(srv.Close)
	closed := closedPort(t)

	tests := []struct {
		name         string
		args         func(logPath string) []string
		logExists    bool
		wantCode     int
		wantOutcomes []string // stdout lines, in order
		wantLog      bool     // termination log written with the same results
		wantStderr   string
	}{
		{
			name:         "results to stdout and the termination log",
			args:         func(log string) []string { return []string{"-termination-log", log, "tcp:" + closed, srv.URL} },
			logExists:    true,
			wantOutcomes: []string{Refused, Connected},
			wantLog:      true,
		},
		{
			name:         "no termination log file: not created",
			args:         func(log string) []string { return []string{"-termination-log", log, srv.URL} },
			wantOutcomes: []string{Connected},
		},
		{
			name:       "no target",
			args:       func(string) []string { return nil },
			wantCode:   2,
			wantStderr: "usage: probe",
		},
		{
			name:       "bad target",
			args:       func(string) []string { return []string{"ftp://x/"} },
			wantCode:   2,
			wantStderr: `target "ftp://x/"`,
		},
		{
			name:       "tcp target without port",
			args:       func(string) []string { return []string{"tcp:catalog"} },
			wantCode:   2,
			wantStderr: "want tcp:HOST:PORT",
		},
		{
			name:     "help",
			args:     func(string) []string { return []string{"-h"} },
			wantCode: 0, wantStderr: "usage: probe",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logPath := filepath.Join(t.TempDir(), "termination-log")
			if tt.logExists {
				if err := os.WriteFile(logPath, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args(logPath), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
			var lines []Result
			dec := json.NewDecoder(&stdout)
			for dec.More() {
				var r Result
				if err := dec.Decode(&r); err != nil {
					t.Fatalf("stdout line is not a JSON result: %v", err)
				}
				lines = append(lines, r)
			}
			var outcomes []string
			for _, r := range lines {
				outcomes = append(outcomes, r.Outcome)
			}
			if diff := cmp.Diff(tt.wantOutcomes, outcomes); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			b, err := os.ReadFile(logPath)
			switch {
			case tt.wantLog:
				var fromLog []Result
				if err := json.Unmarshal(b, &fromLog); err != nil {
					t.Fatalf("termination log %q: %v", b, err)
				}
				if diff := cmp.Diff(lines, fromLog); diff != "" {
					t.Errorf("termination log differs from stdout (-stdout +log):\n%s", diff)
				}
			case !tt.logExists && !errors.Is(err, os.ErrNotExist):
				t.Errorf("termination log created: %v", err)
			}
		})
	}
}

func TestReportShortensLongTerminationLog(t *testing.T) {
	t.Parallel()
	results := make([]Result, 20)
	for i := range results {
		results[i] = Result{Target: "tcp:catalog.gatewarden.svc:8080", Outcome: Timeout, Error: strings.Repeat("dial tcp: i/o timeout ", 20)}
	}
	logPath := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := report(results, &stdout, logPath); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > maxTerminationMessage {
		t.Errorf("termination log is %d bytes, kubelet keeps %d", len(b), maxTerminationMessage)
	}
	var got []Result
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(results) || got[0].Error != "" || got[0].Outcome != Timeout {
		t.Errorf("termination log = %+v, want every result without its error text", got)
	}
	if !strings.Contains(stdout.String(), "i/o timeout") {
		t.Error("stdout lost the error texts")
	}
}
