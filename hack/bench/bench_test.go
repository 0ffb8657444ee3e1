package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
			url := localServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Bench") != "1" {
					w.WriteHeader(http.StatusTeapot)
					return
				}
				w.WriteHeader(tt.status)
			})
			res, err := runBuiltin(t.Context(), loadSpec{
				url: url, headers: map[string]string{"X-Bench": "1"},
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
		{name: "no rounds", args: []string{"-rounds", "0"}, code: 2},
		{name: "fan-out of one", args: []string{"-fanout", "1"}, code: 2},
		{name: "negative sessions", args: []string{"-sessions", "-1"}, code: 2},
		{name: "no fixed-rate connections", args: []string{"-fixed-conns", "0"}, code: 2},
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

func TestParseCommandStats(t *testing.T) {
	t.Parallel()
	const info = "# Commandstats\r\n" +
		"cmdstat_get:calls=1200,usec=900,usec_per_call=0.75,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_evalsha:calls=30,usec=300,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n"
	tests := []struct {
		name    string
		in      string
		want    map[string]int64
		wantErr bool
	}{
		{name: "INFO itself left out", in: info, want: map[string]int64{"get": 1200, "evalsha": 30}},
		{name: "no commands yet", in: "# Commandstats\r\ncmdstat_info:calls=1,usec=1\r\n", want: map[string]int64{}},
		{name: "not commandstats", in: "# Memory\r\nused_memory:100\r\n", wantErr: true},
		{name: "bad number", in: "cmdstat_get:calls=x,usec=1\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCommandStats(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCommandsDelta(t *testing.T) {
	t.Parallel()
	before := map[string]int64{"get": 100, "evalsha": 10, "publish": 5}
	after := map[string]int64{"get": 300, "evalsha": 60, "publish": 5, "set": 50}
	total, mix := commandsDelta(before, after, 200)
	if total != 1.5 || mix != "get 1.00, evalsha 0.25, set 0.25" {
		t.Fatalf("commandsDelta = %v, %q; want 1.5, \"get 1.00, evalsha 0.25, set 0.25\"", total, mix)
	}
	if total, mix := commandsDelta(before, after, 0); total != 0 || mix != "" {
		t.Fatalf("no requests: %v, %q", total, mix)
	}
}

// A row with errors in any round is marked and not averaged; the report
// says when other processes made the run unclean, and a missed target says no.
func TestReport(t *testing.T) {
	t.Parallel()
	ok := func(rps float64, cpu time.Duration) sample {
		return sample{res: loadResult{rps: rps, requests: 1000, p50: time.Millisecond, p99: 2 * time.Millisecond}, serverCPU: cpu}
	}
	failing := ok(500, time.Microsecond)
	failing.res.bad = 3
	busy := ok(900, 30*time.Microsecond)
	busy.other = 0.9
	scs := []scenario{
		{name: "bare"},
		{name: "authz-session-cached", ref: "bare"},
		{name: "authz-session-redis", ref: "bare"},
	}
	samples := map[string][]sample{
		"bare":                 {ok(1000, 10*time.Microsecond), ok(1000, 10*time.Microsecond)},
		"authz-session-cached": {ok(800, 20*time.Microsecond), busy},
		"authz-session-redis":  {ok(400, 50*time.Microsecond), failing},
	}
	var b strings.Builder
	report(&b, reportInfo{gen: "test", rounds: 2, busy: 0.15, st: &stack{}}, scs, samples)
	out := b.String()
	for _, want := range []string{
		"**NOT CLEAN**: other processes used up to 0.90 CPUs (limit 0.15) during authz-session-cached",
		"| authz-session-cached | 850 | 0.85 of bare |",
		"| authz-session-redis | **errors, not averaged** | | | | round 2: 3 non-2xx, 0 socket |",
		"| cached session decision req/s / bare >= 0.85 | 0.85 | yes |",
		"| cached session decision CPU/req / bare <= 1.3 | 2.50 | **no** |",
		"| cache off req/s / one Redis GET >= 0.8 | not measured | - |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// The random row reports bytes per cached session from its authproxy's RSS
// growth, and its progress line sets wrk's CPU per request beside the
// static row's; the closing table compares the cached decision with
// bare-decision without a target.
func TestRandomRowMemoryAndGeneratorCPU(t *testing.T) {
	t.Parallel()
	st := &stack{spreadRSS0: 20 << 20, spreadEntries: 1100, cookies: make([]string, 1000)}
	res := func(rps float64, genCPU time.Duration) sample {
		return sample{res: loadResult{rps: rps, requests: 1000, genCPU: genCPU, generator: "wrk", p50: time.Millisecond, p99: time.Millisecond}}
	}
	random := res(900, 12*time.Millisecond)
	random.rss = 30 << 20
	samples := map[string][]sample{
		"bare-decision":        {res(1000, 8*time.Millisecond)},
		"authz-session-cached": {res(850, 10*time.Millisecond)},
		"authz-session-random": {random},
	}
	randomRow := scenario{name: "authz-session-random", random: true, ref: "authz-session-cached"}
	line := progress(randomRow, random, samples, 1, st)
	for _, want := range []string{"gen CPU/req 12.0 µs (wrk) vs 10.0 µs for authz-session-cached's static request", "10485 bytes per cached session (1000 sessions)"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line lacks %q: %s", want, line)
		}
	}
	var b strings.Builder
	report(&b, reportInfo{gen: "test", rounds: 1, busy: 0.15, st: st},
		[]scenario{{name: "bare-decision"}, {name: "authz-session-cached", ref: "bare-decision"}, randomRow}, samples)
	for _, want := range []string{
		"RSS was 20 MiB before any random load and 30 MiB after the row (largest over the rounds): 10485 bytes per cached session over 1000 distinct sessions served",
		"| cached decision req/s / bare-decision (no target; bare-decision is the ceiling for a decision's bytes) | 0.85 | - |",
		"| random sessions req/s / one session >= 0.9 | 1.06 | yes |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// A fixed-rate row brings the row it takes half the rate of.
func TestSelectScenarios(t *testing.T) {
	t.Parallel()
	all := []scenario{{name: "bare"}, {name: "authz-session-cached"}, {name: "authz-session-random"}, {name: "authz-session-cached-fixed", halfOf: "authz-session-cached"}}
	tests := []struct {
		run  string
		want []string
	}{
		{run: "bare|fixed|random", want: []string{"bare", "authz-session-cached", "authz-session-random", "authz-session-cached-fixed"}},
		{run: "^bare$", want: []string{"bare"}},
		{run: "nothing", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.run, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, sc := range selectScenarios(all, regexp.MustCompile(tt.run)) {
				got = append(got, sc.name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("selected (-want +got):\n%s", diff)
			}
		})
	}
}
