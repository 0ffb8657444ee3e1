// Command bench measures authproxy's decision hot path against two
// baselines and prints a markdown table.
//
// It starts, all on 127.0.0.1 free ports: a redis-server child process, a
// bare net/http handler and the same handler doing one Redis GET (both in
// this process), the dev IdP (hack/devidp, in process), and two real
// authproxy processes built from ./authproxy (one with the default 1 s
// session cache, one with --session-cache-ttl 0). authproxy's packages are
// internal to it, so the real binary is run rather than app.New. It logs
// a user in through the real browser flow, then drives each endpoint with
// wrk (or, without wrk, a built-in Go load loop) for a bounded time.
// Children get SIGKILL if this program dies; everything stops by itself.
//
//	go run ./hack/bench              # wrk -t2 -c32 -d10s --latency per scenario
//	go run ./hack/bench -d 3s -run session
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// scenario is one endpoint under load.
type scenario struct {
	name    string
	what    string
	url     string
	headers map[string]string
	// check validates one answer before the load starts.
	check func(*http.Response) error
	// cpu is the serving process's CPU time so far.
	cpu func() time.Duration
}

type options struct {
	duration  time.Duration
	threads   int
	conns     int
	wrk       string
	builtin   bool
	redisBin  string
	run       *regexp.Regexp
	authproxy string
	stdout    io.Writer
	stderr    io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./hack/bench [flags]\n\n"+
			"Load-tests a bare handler, a bare handler with one Redis GET, and authproxy's /authz\n"+
			"(public rule, session rule with and without the session cache, bearer token rule)\n"+
			"on 127.0.0.1, and prints a markdown table on stdout. Needs redis-server; uses wrk\n"+
			"when found, else a built-in Go load loop.\n\nflags:\n")
		fs.PrintDefaults()
	}
	o := options{stdout: stdout, stderr: stderr}
	fs.DurationVar(&o.duration, "d", 10*time.Second, "load duration per scenario (wrk -d; whole seconds with wrk)")
	fs.IntVar(&o.threads, "t", 2, "load generator threads (wrk -t)")
	fs.IntVar(&o.conns, "c", 32, "open connections (wrk -c)")
	fs.StringVar(&o.wrk, "wrk", "wrk", "wrk binary (name on PATH or path)")
	fs.BoolVar(&o.builtin, "builtin", false, "use the built-in Go load loop even when wrk is found")
	fs.StringVar(&o.redisBin, "redis-server", "redis-server", "redis-server binary")
	runExpr := fs.String("run", "", "only scenarios whose name matches this regular expression")
	fs.StringVar(&o.authproxy, "authproxy", "", "authproxy binary to run (default: go build ./authproxy from this module)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || o.duration <= 0 || o.duration > 10*time.Minute || o.threads < 1 || o.conns < o.threads || o.conns > 1000 {
		fmt.Fprintln(stderr, "bench: need 0 < -d <= 10m, 1 <= -t <= -c <= 1000, and no arguments")
		return 2
	}
	re, err := regexp.Compile(*runExpr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: -run: %v\n", err)
		return 2
	}
	o.run = re
	if err := bench(o); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

func bench(o options) error {
	redis.SetLogger(quiet{})
	// Hard bound on the whole run: setup, 6 scenarios and teardown.
	ctx, cancel := context.WithTimeout(context.Background(), 6*(o.duration+20*time.Second)+time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	useWrk := false
	if !o.builtin {
		if p, err := exec.LookPath(o.wrk); err == nil {
			o.wrk, useWrk = p, true
		} else {
			fmt.Fprintf(o.stderr, "bench: wrk not found (%v); using the built-in Go load loop\n", err)
		}
	}

	load1, _ := loadAverage()
	fmt.Fprintln(o.stderr, "bench: building authproxy; starting redis-server, devidp, authproxy (x2), bare handlers")
	st, err := startStack(ctx, o.redisBin, o.authproxy)
	if err != nil {
		return err
	}
	defer st.close()

	cookie := st.cookieName + "=" + st.cookie
	withHeaders := func(uri string, extra ...string) map[string]string {
		h := forwardHeaders(uri)
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	gatewayToken := func(resp *http.Response) error {
		if !strings.HasPrefix(resp.Header.Get("Authorization"), "Bearer ") {
			return errors.New("no Authorization: Bearer on the answer")
		}
		return nil
	}
	scenarios := []scenario{
		{name: "bare", what: "net/http handler answering 200 (in this process)", url: st.bare.url + "/", cpu: processCPU},
		{name: "bare-redis-get", what: "same handler plus one Redis GET (3 KB value, authproxy's client options)", url: st.bareRedis.url + "/", cpu: processCPU},
		{name: "authz-public", what: "/authz, public rule, no credential (anonymous gateway JWT, token cache)",
			url: st.cached.url + "/authz", headers: withHeaders("/products?page=1"), check: gatewayToken, cpu: st.cached.cpuTime},
		{name: "authz-session-cached", what: "/authz, role rule, session cookie, session cache on (1 s, default)",
			url: st.cached.url + "/authz", headers: withHeaders("/admin/users", "Cookie", cookie), check: gatewayToken, cpu: st.cached.cpuTime},
		{name: "authz-session-redis", what: "/authz, role rule, session cookie, session-cache-ttl 0 (one Redis GET per decision)",
			url: st.uncached.url + "/authz", headers: withHeaders("/admin/users", "Cookie", cookie), check: gatewayToken, cpu: st.uncached.cpuTime},
		{name: "authz-bearer", what: "/authz, authenticated rule, FusionAuth access token as Bearer (verified-token cache)",
			url: st.cached.url + "/authz", headers: withHeaders("/account/me", "Authorization", "Bearer "+st.accessTok), check: gatewayToken, cpu: st.cached.cpuTime},
	}

	type row struct {
		sc        scenario
		res       loadResult
		serverCPU time.Duration
		redisCPU  time.Duration
	}
	var rows []row
	for _, sc := range scenarios {
		if !o.run.MatchString(sc.name) {
			continue
		}
		if err := probe(ctx, sc); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		fmt.Fprintf(o.stderr, "bench: %s: %s of load\n", sc.name, o.duration)
		spec := loadSpec{url: sc.url, headers: sc.headers, threads: o.threads, conns: o.conns, duration: o.duration}
		cpu0, rcpu0 := sc.cpu(), procCPU(st.redis.PID())
		var res loadResult
		if useWrk {
			res, err = runWrk(ctx, o.wrk, spec)
		} else {
			res, err = runBuiltin(ctx, spec)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		r := row{sc: sc, res: res}
		if res.requests > 0 {
			r.serverCPU = (sc.cpu() - cpu0) / time.Duration(res.requests)
			r.redisCPU = (procCPU(st.redis.PID()) - rcpu0) / time.Duration(res.requests)
		}
		rows = append(rows, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("no scenario matches -run %q", o.run)
	}

	w := o.stdout
	gen := fmt.Sprintf("wrk -t%d -c%d -d%s --latency", o.threads, o.conns, o.duration)
	if !useWrk {
		gen = fmt.Sprintf("built-in Go loop, %d connections, %s (inside the measured process)", o.conns, o.duration)
	}
	fmt.Fprintf(w, "## authproxy decision load (hack/bench)\n\n")
	fmt.Fprintf(w, "Load: %s per scenario. Machine: %d CPUs, %s, load average %s at start.\n", gen, runtime.NumCPU(), runtime.Version(), load1)
	fmt.Fprintf(w, "The load generator, redis-server and the servers share these CPUs, so the numbers are\n"+
		"relative to each other (and to the bare rows), not what a dedicated authproxy would serve.\n\n")
	fmt.Fprintln(w, "| scenario | req/s | vs bare | p50 | p99 | server CPU/req | redis CPU/req | errors |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var bareRPS float64
	for _, r := range rows {
		if r.sc.name == "bare" {
			bareRPS = r.res.rps
		}
	}
	for _, r := range rows {
		rel := "-"
		if bareRPS > 0 {
			rel = fmt.Sprintf("%.0f%%", 100*r.res.rps/bareRPS)
		}
		errs := "0"
		if r.res.bad > 0 || r.res.sockErrs > 0 {
			errs = fmt.Sprintf("**%d non-2xx, %d socket**", r.res.bad, r.res.sockErrs)
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %s | %s |\n", r.sc.name, r.res.rps, rel,
			fmtDur(r.res.p50), fmtDur(r.res.p99), fmtDur(r.serverCPU), fmtDur(r.redisCPU), errs)
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "- `%s`: %s\n", r.sc.name, r.sc.what)
	}
	fmt.Fprintf(w, "\nserver CPU/req: CPU time per request of the serving process (authproxy's, or for the"+
		" bare rows this program's%s); redis CPU/req: redis-server's. Both from /proc, 10 ms ticks.\n",
		map[bool]string{true: "", false: ", which also runs the built-in load loop"}[useWrk])
	return nil
}

// probe sends one request and checks the answer, so a run never measures
// a stream of 401s.
func probe(ctx context.Context, sc scenario) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sc.url, nil)
	if err != nil {
		return err
	}
	for k, v := range sc.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe answered %d, want 200", resp.StatusCode)
	}
	if sc.check != nil {
		return sc.check(resp)
	}
	return nil
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAverage() (string, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown", err
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown", errors.New("short /proc/loadavg")
	}
	return strings.Join(f[:3], " "), nil
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}
