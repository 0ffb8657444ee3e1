package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// answer is one response readResponse returned.
type answer struct {
	Status    int
	KeepAlive bool
}

// readAll reads responses from in until it is used up or an error.
func readAll(in string, bufSize int) ([]answer, error) {
	br := bufio.NewReaderSize(strings.NewReader(in), bufSize)
	var got []answer
	for {
		if _, err := br.Peek(1); errors.Is(err, io.EOF) {
			return got, nil
		}
		status, keep, err := readResponse(br)
		if err != nil {
			return got, err
		}
		got = append(got, answer{status, keep})
	}
}

var responseCases = []struct {
	name    string
	in      string
	bufSize int
	want    []answer
	wantErr error
}{
	{name: "content-length, then the next answer on the same connection",
		in:   "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nAuthorization: Bearer x\r\n\r\nok\nHTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",
		want: []answer{{200, true}, {401, true}}},
	{name: "chunked with an extension and a trailer",
		in:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		want: []answer{{200, true}, {204, true}}},
	{name: "chunked wins over content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
		want: []answer{{200, true}}},
	{name: "no reason phrase, bare LF", in: "HTTP/1.1 202\nContent-Length: 0\n\n", want: []answer{{202, true}}},
	{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", want: []answer{{200, false}}},
	{name: "HTTP/1.0 closes by default", in: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", want: []answer{{200, false}}},
	{name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", want: []answer{{200, true}}},
	{name: "HTTP/1.0 ignores transfer-encoding", in: "HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw", want: []answer{{200, false}}},
	{name: "body until close", in: "HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", want: []answer{{200, false}}},
	{name: "304 has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		want: []answer{{304, true}, {200, true}}},
	{name: "equal content-lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", want: []answer{{200, true}}},
	{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n\r\n", wantErr: errMalformed},
	{name: "HTTP/2 status line", in: "HTTP/2.0 200 OK\r\n\r\n", wantErr: errMalformed},
	{name: "two-digit status", in: "HTTP/1.1 20 OK\r\n\r\n", wantErr: errMalformed},
	{name: "status glued to reason", in: "HTTP/1.1 200OK\r\n\r\n", wantErr: errMalformed},
	{name: "interim answer", in: "HTTP/1.1 100 Continue\r\n\r\n", wantErr: errUnsupported},
	{name: "gzip transfer coding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", wantErr: errUnsupported},
	{name: "conflicting content-lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", wantErr: errMalformed},
	{name: "signed content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", wantErr: errMalformed},
	{name: "space in a header name", in: "HTTP/1.1 200 OK\r\nContent Length: 1\r\n\r\nx", wantErr: errMalformed},
	{name: "control byte in a value", in: "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", wantErr: errMalformed},
	{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantErr: errMalformed},
	{name: "chunk without its CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n", wantErr: errMalformed},
	{name: "body cut short", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", wantErr: io.ErrUnexpectedEOF},
	{name: "headers cut short", in: "HTTP/1.1 200 OK\r\nContent-Le", wantErr: io.ErrUnexpectedEOF},
	{name: "line longer than the buffer", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 64) + "\r\n\r\n", bufSize: 16, wantErr: errLineTooLong},
}

func TestReadResponse(t *testing.T) {
	t.Parallel()
	for _, tt := range responseCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			size := tt.bufSize
			if size == 0 {
				size = 4096
			}
			got, err := readAll(tt.in, size)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("answers (-want +got):\n%s", diff)
			}
		})
	}
}

// Whatever the bytes, readResponse does not panic, and where net/http also
// reads an answer from them it agrees on the status, on whether the
// connection stays open and on where the answer ends.
func FuzzReadResponse(f *testing.F) {
	for _, tt := range responseCases {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		src := bytes.NewReader(in)
		br := bufio.NewReaderSize(src, 4096)
		status, keep, err := readResponse(br)
		if err != nil {
			return
		}
		if status < 200 || status > 999 {
			t.Fatalf("status %d accepted", status)
		}
		ours := len(in) - src.Len() - br.Buffered()

		hsrc := bytes.NewReader(in)
		hbr := bufio.NewReaderSize(hsrc, 4096)
		resp, err := http.ReadResponse(hbr, nil)
		if err != nil {
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return
		}
		theirs := len(in) - hsrc.Len() - hbr.Buffered()
		if got, want := (answer{status, keep}), (answer{resp.StatusCode, !resp.Close}); got != want || ours != theirs {
			t.Fatalf("readResponse %+v ending at byte %d; net/http %+v ending at byte %d", got, ours, want, theirs)
		}
	})
}

func TestNewFixedSpec(t *testing.T) {
	t.Parallel()
	spec, err := newFixedSpec("http://127.0.0.1:8080/authz?x=1", map[string]string{"X-Forwarded-Uri": "/a", "Cookie": "c=v"}, 100, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := "GET /authz?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nCookie: c=v\r\nX-Forwarded-Uri: /a\r\n\r\n"
	if diff := cmp.Diff(want, string(spec.request)); diff != "" {
		t.Fatalf("request (-want +got):\n%s", diff)
	}
	for _, bad := range []struct {
		url     string
		headers map[string]string
	}{
		{url: "https://127.0.0.1:8080/"},
		{url: "http://127.0.0.1/"},
		{url: "http://127.0.0.1:1/", headers: map[string]string{"X": "a\r\nInjected: 1"}},
		{url: "http://127.0.0.1:1/", headers: map[string]string{"host": "other"}},
	} {
		if _, err := newFixedSpec(bad.url, bad.headers, 100, 2, time.Second); err == nil {
			t.Errorf("newFixedSpec(%q, %v) accepted", bad.url, bad.headers)
		}
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "exact below 128 ns", values: []time.Duration{5, 7, 9}, q: 0.5, want: 7},
		{name: "median of 1..1000 µs", values: seq(1000, time.Microsecond), q: 0.5, want: 500 * time.Microsecond},
		{name: "p99 of 1..1000 µs", values: seq(1000, time.Microsecond), q: 0.99, want: 990 * time.Microsecond},
		{name: "one outlier above p99", values: append(seq(999, 0), 2*time.Second), q: 0.99, want: 989},
		{name: "max", values: []time.Duration{time.Millisecond, time.Hour}, q: 1, want: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h histogram
			for _, v := range tt.values {
				h.record(v)
			}
			got := h.quantile(tt.q)
			if diff := got - tt.want; diff < -tt.want/128-1 || diff > tt.want/128+1 {
				t.Fatalf("quantile(%v) = %v, want %v within 1/128", tt.q, got, tt.want)
			}
		})
	}
	var h, o histogram
	h.record(time.Millisecond)
	o.record(3 * time.Millisecond)
	o.record(10 * time.Nanosecond)
	h.merge(&o)
	if h.n != 3 || h.max != 3*time.Millisecond || h.countAtLeast(2*time.Millisecond) != 1 || h.countAtLeast(time.Microsecond) != 2 {
		t.Fatalf("merged: n %d, max %v, >= 2 ms %d, >= 1 µs %d", h.n, h.max, h.countAtLeast(2*time.Millisecond), h.countAtLeast(time.Microsecond))
	}
}

// seq is n durations step, 2*step, ..., n*step (0, 1, ..., n-1 ns when step is 0).
func seq(n int, step time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		if step == 0 {
			out[i] = time.Duration(i)
		} else {
			out[i] = time.Duration(i+1) * step
		}
	}
	return out
}

func localServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// A server that stalls once delays every request scheduled during the
// stall, and the generator charges each of them from its scheduled time
// (wrk2's coordinated-omission correction). Counted from the send, only
// the stalled request would be slow. The bound below holds however slow
// the machine: lateness only adds latency.
func TestFixedRateStall(t *testing.T) {
	t.Parallel()
	const stall = 100 * time.Millisecond
	var calls atomic.Int64
	url := localServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			time.Sleep(stall)
		}
		w.Header().Set("Authorization", "Bearer x")
		w.WriteHeader(http.StatusOK)
	})
	const rate, dur = 1000, 500 * time.Millisecond
	spec, err := newFixedSpec(url+"/authz", map[string]string{"Cookie": "c=v"}, rate, 1, dur)
	if err != nil {
		t.Fatal(err)
	}
	res := runFixed(t.Context(), spec)
	if res.scheduled != rate*int64(dur/time.Millisecond)/1000 || res.errs != 0 || res.answered != res.scheduled || res.bad != 0 {
		t.Fatalf("scheduled %d, answered %d, errors %d, bad %d; want %d scheduled, all answered", res.scheduled, res.answered, res.errs, res.bad, rate/2)
	}
	// The requests scheduled in the stall's first half waited more than half of it.
	if got, want := res.hist.countAtLeast(stall/2), uint64(stall/2*rate/time.Second); got < want {
		t.Fatalf("%d requests took >= %v, want at least %d (latency from the scheduled time)", got, stall/2, want)
	}
	if res.hist.max < stall {
		t.Fatalf("max %v, want >= %v", res.hist.max, stall)
	}
	t.Logf("p50 %v, p99 %v, max %v", res.hist.quantile(0.5), res.hist.quantile(0.99), res.hist.max)
}

// The latency of a request counts from its due time on a punctual
// generator's timeline: waiting behind a slow answer is charged, the
// generator's own lateness (sent after v) is not.
func TestPunctual(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name     string
		due      time.Time
		prevDone time.Time
		service  time.Duration
		wantV    time.Time
		wantLat  time.Duration
	}{
		{name: "first request", due: ms(0), service: time.Millisecond, wantV: ms(0), wantLat: time.Millisecond},
		{name: "connection idle at due", due: ms(10), prevDone: ms(5), service: time.Millisecond, wantV: ms(10), wantLat: time.Millisecond},
		{name: "queued behind a stalled answer", due: ms(10), prevDone: ms(100), service: time.Millisecond, wantV: ms(100), wantLat: 91 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, done := punctual(tt.due, tt.prevDone, tt.service)
			if !v.Equal(tt.wantV) || done.Sub(tt.due) != tt.wantLat {
				t.Fatalf("punctual = send %v, latency %v; want %v, %v", v.Sub(t0), done.Sub(tt.due), tt.wantV.Sub(t0), tt.wantLat)
			}
		})
	}
}

// An answer that never comes is an error (after the timeout), refusals are
// counted as bad answers, and every scheduled request is accounted for.
func TestFixedRateAccounting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		hangOn   int64 // this call never answers (0: none)
		wantErrs bool
	}{
		{name: "all answered", status: http.StatusOK},
		{name: "refused", status: http.StatusUnauthorized},
		{name: "one answer never comes", status: http.StatusOK, hangOn: 3, wantErrs: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			url := localServer(t, func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == tt.hangOn {
					<-r.Context().Done() // until the client gives up and closes
					return
				}
				w.WriteHeader(tt.status)
			})
			spec, err := newFixedSpec(url, nil, 200, 2, 300*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			spec.timeout = 200 * time.Millisecond
			res := runFixed(t.Context(), spec)
			if res.scheduled != 60 || res.answered+res.errs != res.scheduled {
				t.Fatalf("scheduled %d, answered %d, errors %d; want 60 = answered + errors", res.scheduled, res.answered, res.errs)
			}
			if (res.errs > 0) != tt.wantErrs {
				t.Fatalf("errors %d, want errors %v", res.errs, tt.wantErrs)
			}
			if wantBad := tt.status >= 400; (res.bad == res.answered) != wantBad || (!wantBad && res.bad != 0) {
				t.Fatalf("bad %d of %d answered, want all bad %v", res.bad, res.answered, wantBad)
			}
		})
	}
}

// cannedEnv makes the test binary a canned HTTP server (for the generator's
// CPU benchmark, in a process of its own so getrusage sees only the
// generator).
const cannedEnv = "GW_BENCH_CANNED_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(fixedChildEnv) == "1" {
		os.Exit(fixedChild(os.Stdin, os.Stdout))
	}
	if os.Getenv(cannedEnv) == "1" {
		if err := cannedServer(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cannedServer answers every request on 127.0.0.1 with the same bytes, an
// allow the size of authproxy's (1.3 KB Authorization), until stdin closes.
func cannedServer() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	answer := []byte("HTTP/1.1 200 OK\r\nAuthorization: Bearer " + strings.Repeat("t", 1250) +
		"\r\nCache-Control: no-store\r\nX-Request-Id: 0123456789abcdef0123456789abcdef\r\nDate: Mon, 30 Nov 2026 19:00:00 GMT\r\nContent-Length: 0\r\n\r\n")
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer func() { _ = c.Close() }()
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 { // the blank line ending a request
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			}
		}()
	}
}

// BenchmarkFixedRateGenerator measures the generator's own CPU per request
// against a canned server in another process, at 20,000 requests/s:
// gen-µs/req is this process's CPU time (getrusage) per answer. The
// net/http sub-benchmark is the built-in loop the fixed row used before,
// at the same rate, for comparison. Run it with a fixed count, e.g.
//
//	go test -run '^$' -bench FixedRateGenerator -benchtime 60000x ./hack/bench/
func BenchmarkFixedRateGenerator(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), cannedEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + strings.TrimSpace(addr) + "/authz"
	const rate = 20000
	// b.N requests at rate (at least 50 ms: the first call has b.N = 1).
	dur := func(b *testing.B) time.Duration {
		return max(time.Duration(float64(b.N)/rate*float64(time.Second)), 50*time.Millisecond)
	}
	report := func(b *testing.B, cpu time.Duration, answered int64, p99 time.Duration) {
		b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(answered), "gen-µs/req")
		b.ReportMetric(float64(p99)/float64(time.Microsecond), "p99-µs")
	}
	for _, conns := range []int{4, 8, 32} {
		b.Run(fmt.Sprintf("raw/conns=%d", conns), func(b *testing.B) {
			spec, err := newFixedSpec(url, forwardHeaders("/admin/users"), rate, conns, dur(b))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := processCPU()
			res := runFixed(b.Context(), spec)
			cpu := processCPU() - cpu0
			if res.answered == 0 || res.errs != 0 {
				b.Fatalf("answered %d, errors %d", res.answered, res.errs)
			}
			report(b, cpu, res.answered, res.hist.quantile(0.99))
		})
	}
	b.Run("net-http/conns=32", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := processCPU()
		res, err := runBuiltin(b.Context(), loadSpec{url: url, headers: forwardHeaders("/admin/users"), conns: 32, rate: rate, duration: dur(b)})
		cpu := processCPU() - cpu0
		if err != nil || res.sockErrs != 0 {
			b.Fatalf("%v, errors %d of %d", err, res.sockErrs, res.requests)
		}
		report(b, cpu, res.requests, res.p99)
	})
}

// The warm-up sends every cookie once and fails when a session is refused.
func TestWarmSessions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		refuse  string // this cookie's session is refused
		wantErr bool
	}{
		{name: "all valid"},
		{name: "one refused", refuse: "c7", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			seen := map[string]int{}
			url := localServer(t, func(w http.ResponseWriter, r *http.Request) {
				ck, err := r.Cookie("gw")
				if err != nil || r.Header.Get("X-Forwarded-Uri") != "/admin" {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				mu.Lock()
				seen[ck.Value]++
				mu.Unlock()
				if ck.Value == tt.refuse {
					w.WriteHeader(http.StatusUnauthorized)
				}
			})
			var cookies []string
			want := map[string]int{}
			for i := range 50 {
				cookies = append(cookies, fmt.Sprintf("c%d", i))
				want[cookies[i]] = 1
			}
			err := warmSessions(t.Context(), url+"/authz", map[string]string{"X-Forwarded-Uri": "/admin"}, "gw", cookies, 3)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(want, seen); diff != "" {
				t.Fatalf("requests per cookie (-want +got):\n%s", diff)
			}
		})
	}
}

// The fixed-rate generator runs as a child process (this test binary
// re-executed) and reports its figures and its own CPU time.
func TestRunFixedRateChild(t *testing.T) {
	t.Parallel()
	url := localServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "gw=1" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	res, err := runFixedRate(t.Context(), loadSpec{url: url + "/authz", headers: map[string]string{"Cookie": "gw=1"}, rate: 500, duration: 200 * time.Millisecond}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.requests != 100 || res.bad != 0 || res.sockErrs != 0 || res.genCPU <= 0 || res.p99 < res.p50 || res.maxLat < res.p99 {
		t.Fatalf("implausible result %+v", res)
	}
}
