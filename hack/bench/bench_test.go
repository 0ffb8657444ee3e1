package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const wrkReport = `Running 10s test @ http://127.0.0.1:41234/authz
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.42ms    2.10ms  45.12ms   91.23%
    Req/Sec    12.34k     1.02k   14.01k    70.00%
  Latency Distribution
     50%  612.00us
     75%    1.10ms
     90%    2.95ms
     99%   10.20ms
  245678 requests in 10.00s, 98.76MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 17
Requests/sec:  24567.80
Transfer/sec:      9.88MB
`

func TestParseWrk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    loadResult
		wantErr string
	}{
		{name: "full report", in: wrkReport, want: loadResult{
			requests: 245678, elapsed: 10 * time.Second, rps: 24567.80,
			p50: 612 * time.Microsecond, p99: 10200 * time.Microsecond, bad: 17, sockErrs: 5,
		}},
		{name: "without --latency", in: strings.Replace(wrkReport, "99%", "98%", 1), wantErr: "latency distribution"},
		{name: "bad unit", in: strings.Replace(wrkReport, "612.00us", "612.00xs", 1), wantErr: `duration "612.00xs"`},
		{name: "empty", in: "", wantErr: "no Requests/sec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseWrk(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(loadResult{})); diff != "" {
				t.Fatalf("parseWrk (-want +got):\n%s", diff)
			}
		})
	}
}

// The built-in loop stops by itself, counts every answer and reports
// refusals as errors, so a run of 401s cannot pass for throughput.
func TestRunBuiltin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		wantBad bool
	}{
		{name: "ok", status: http.StatusOK},
		{name: "refused", status: http.StatusUnauthorized, wantBad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Bench") != "1" {
					w.WriteHeader(http.StatusTeapot)
					return
				}
				w.WriteHeader(tt.status)
			}))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv.Listener = ln
			srv.Start()
			t.Cleanup(srv.Close)
			res, err := runBuiltin(t.Context(), loadSpec{
				url: srv.URL, headers: map[string]string{"X-Bench": "1"},
				threads: 1, conns: 2, duration: 200 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.requests == 0 || res.rps <= 0 || res.p50 <= 0 || res.p99 < res.p50 {
				t.Fatalf("implausible result %+v", res)
			}
			if got := res.bad == res.requests; got != tt.wantBad || (!tt.wantBad && res.bad != 0) {
				t.Fatalf("bad = %d of %d, want all bad = %v", res.bad, res.requests, tt.wantBad)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
	}{
		{name: "help", args: []string{"-h"}, code: 0},
		{name: "unbounded duration", args: []string{"-d", "0s"}, code: 2},
		{name: "too long", args: []string{"-d", "11m"}, code: 2},
		{name: "fewer connections than threads", args: []string{"-t", "4", "-c", "2"}, code: 2},
		{name: "bad regexp", args: []string{"-run", "("}, code: 2},
		{name: "stray argument", args: []string{"x"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errb strings.Builder
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errb.String())
			}
			if out.Len() != 0 {
				t.Fatalf("stdout not empty: %q", out.String())
			}
		})
	}
}
