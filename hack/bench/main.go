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
	// random picks the session cookie at random per request from the
	// seeded sessions.
	random bool
	// check validates one answer before the load starts.
	check func(*http.Response) error
	// procs are the serving processes: their CPU time and RSS are the row's.
	procs []proc
	// ref is the row this one is compared with (the ratio column).
	ref string
	// halfOf, when set, makes this a fixed-rate row at half of that row's
	// req/s in the same round (the built-in loop).
	halfOf string
}

// proc is a process whose CPU time and resident memory a row reports.
type proc interface {
	cpuTime() time.Duration
	rss() int64
}

// self is this process (the bare handlers, devidp, the built-in loop).
type self struct{}

func (self) cpuTime() time.Duration { return processCPU() }
func (self) rss() int64             { return rssBytes(os.Getpid()) }

type options struct {
	fanout    fanoutOptions
	rounds    int
	sessions  int
	peer      string
	nginx     string
	keepalive int
	busy      float64
	duration  time.Duration
	threads   int
	conns     int
	fixed     int // connections of the fixed-rate generator (and the warm-up)
	wrk       string
	builtin   bool
	redisBin  string
	run       *regexp.Regexp
	authproxy string
	stdout    io.Writer
	stderr    io.Writer
}

func main() {
	if os.Getenv(fixedChildEnv) == "1" { // the fixed-rate generator (fixedchild.go)
		os.Exit(fixedChild(os.Stdin, os.Stdout))
	}
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
	fs.IntVar(&o.fixed, "fixed-conns", 8, "connections of the fixed-rate generator (the -fixed row) and of the random row's warm-up")
	fs.StringVar(&o.wrk, "wrk", "wrk", "wrk binary (name on PATH or path)")
	fs.BoolVar(&o.builtin, "builtin", false, "use the built-in Go load loop even when wrk is found")
	fs.StringVar(&o.redisBin, "redis-server", "redis-server", "redis-server binary")
	runExpr := fs.String("run", "", "only scenarios whose name matches this regular expression")
	fs.StringVar(&o.authproxy, "authproxy", "", "authproxy binary to run (default: go build ./authproxy from this module)")
	fs.IntVar(&o.rounds, "rounds", 2, "interleaved rounds: every row once per round")
	fs.IntVar(&o.sessions, "sessions", 100000, "distinct sessions for the random-session row (0: no such row)")
	fs.StringVar(&o.peer, "oauth2-proxy", "build", `oauth2-proxy binary; "build" builds `+oauth2ProxyVersion+` with hack/kubebin/build.sh (cached); "" leaves the peer out`)
	fs.StringVar(&o.nginx, "nginx", "nginx", `nginx binary (name on PATH or path); "" leaves the nginx rows out`)
	fs.IntVar(&o.keepalive, "keepalive", 64, "nginx keepalive connections to each upstream (ingress-nginx auth-keepalive)")
	fs.IntVar(&o.fanout.replicas, "fanout", 0, "instead of the load rows: this many authproxy replicas on one Redis, timed until each drops a logged-out session (e.g. 20)")
	fs.IntVar(&o.fanout.trials, "fanout-trials", 20, "logouts timed in the fan-out run")
	fs.IntVar(&o.fanout.burst, "fanout-burst", 1000, "logouts back to back for the fan-out run's CPU per invalidation")
	fs.Float64Var(&o.busy, "busy", 0.15, "CPUs of other processes (average over a row) above which the run is not clean")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || o.duration <= 0 || o.duration > 10*time.Minute || o.threads < 1 || o.conns < o.threads || o.conns > 1000 ||
		o.fixed < 1 || o.fixed > 1000 || o.rounds < 1 || o.rounds > 10 || o.sessions < 0 || o.sessions > 1000000 || o.keepalive < 1 {
		fmt.Fprintln(stderr, "bench: need 0 < -d <= 10m, 1 <= -t <= -c <= 1000, 1 <= -fixed-conns <= 1000, 1 <= -rounds <= 10, 0 <= -sessions <= 1e6, -keepalive >= 1, and no arguments")
		return 2
	}
	re, err := regexp.Compile(*runExpr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: -run: %v\n", err)
		return 2
	}
	o.run = re
	if o.fanout.replicas != 0 {
		if o.fanout.replicas < 2 || o.fanout.replicas > 100 || o.fanout.trials < 1 || o.fanout.burst < 1 {
			fmt.Fprintf(stderr, "bench: %v (and at most 100), -fanout-trials and -fanout-burst >= 1\n", errNoFanout)
			return 2
		}
		if err := fanout(o); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		return 0
	}
	if err := bench(o); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

func fanout(o options) error {
	redis.SetLogger(quiet{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	load1, _ := loadAverage()
	res, err := runFanout(ctx, o.fanout, o.authproxy, o.redisBin, o.stderr)
	if err != nil {
		return err
	}
	fanoutReport(o.stdout, res, load1, o.busy)
	return nil
}

func bench(o options) error {
	redis.SetLogger(quiet{})
	// Hard bound on the whole run: builds, seeding, every row of every round, teardown.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.rounds*16)*(o.duration+20*time.Second)+20*time.Minute)
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
	so := stackOptions{redisBin: o.redisBin, authproxyBin: o.authproxy, keepalive: o.keepalive, sessions: o.sessions}
	switch o.peer {
	case "":
	case "build":
		fmt.Fprintf(o.stderr, "bench: oauth2-proxy %s from hack/kubebin/build.sh oauth2proxy (a cold build takes minutes)\n", oauth2ProxyVersion)
		p, err := buildOAuth2Proxy(ctx)
		if err != nil {
			return err
		}
		so.peerBin = p
	default:
		so.peerBin = o.peer
	}
	if o.nginx != "" {
		p, err := exec.LookPath(o.nginx)
		if err != nil {
			fmt.Fprintf(o.stderr, "bench: nginx not found (%v); no nginx rows\n", err)
		} else {
			so.nginxBin = p
		}
	}

	load1, _ := loadAverage()
	fmt.Fprintf(o.stderr, "bench: starting redis-server, devidp, authproxy (x3), oauth2-proxy, nginx, bare handlers; seeding %d sessions\n", o.sessions)
	st, err := startStack(ctx, so)
	if err != nil {
		return err
	}
	defer st.close()

	scenarios := st.scenarios()
	selected := selectScenarios(scenarios, o.run)
	if len(selected) == 0 {
		return fmt.Errorf("no scenario matches -run %q", o.run)
	}
	all := st.procs()
	samples := make(map[string][]sample)
	for round := 1; round <= o.rounds; round++ {
		for _, sc := range selected {
			spec := loadSpec{url: sc.url, headers: sc.headers, threads: o.threads, conns: o.conns, duration: o.duration}
			if sc.random {
				spec.script, spec.cookies, spec.cookieName = st.cookieScript, st.cookies, st.cookieName
			}
			gen := func(ctx context.Context) (loadResult, error) { return runBuiltin(ctx, spec) }
			if useWrk {
				gen = func(ctx context.Context) (loadResult, error) { return runWrk(ctx, o.wrk, spec) }
			}
			if sc.halfOf != "" {
				base := samples[sc.halfOf]
				if len(base) < round || base[round-1].res.rps <= 0 {
					fmt.Fprintf(o.stderr, "bench: %s: no %s row in round %d; skipped\n", sc.name, sc.halfOf, round)
					continue
				}
				spec.rate = base[round-1].res.rps / 2
				gen = func(ctx context.Context) (loadResult, error) { return runFixedRate(ctx, spec, o.fixed) }
			}
			if err := probe(ctx, sc, st); err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			if sc.random {
				t0 := time.Now()
				if err := warmSessions(ctx, sc.url, sc.headers, st.cookieName, st.cookies, o.fixed); err != nil {
					return fmt.Errorf("%s: %w", sc.name, err)
				}
				fmt.Fprintf(o.stderr, "bench: round %d/%d: %s: warm-up: %d sessions sent once in %s (not counted)\n",
					round, o.rounds, sc.name, len(st.cookies), time.Since(t0).Round(time.Millisecond))
			}
			fmt.Fprintf(o.stderr, "bench: round %d/%d: %s: %s of load\n", round, o.rounds, sc.name, o.duration)
			s, err := measure(ctx, st, sc, all, gen)
			if err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			samples[sc.name] = append(samples[sc.name], s)
			fmt.Fprintf(o.stderr, "bench: round %d/%d: %s: %s\n", round, o.rounds, sc.name, progress(sc, s, samples, round, st))
		}
	}
	gen := fmt.Sprintf("wrk -t%d -c%d -d%s --latency", o.threads, o.conns, o.duration)
	if !useWrk {
		gen = fmt.Sprintf("built-in Go loop, %d connections, %s (inside the measured process)", o.conns, o.duration)
	}
	gen += fmt.Sprintf(" per row (the fixed-rate rows: this program's lean generator in a child process, %d connections, GOMAXPROCS=1)", o.fixed)
	report(o.stdout, reportInfo{gen: gen, load: load1, rounds: o.rounds, busy: o.busy, st: st, sessions: o.sessions, conns: o.conns}, selected, samples)
	return nil
}

// selectScenarios keeps the scenarios whose name matches re, in order,
// and the rows a kept fixed-rate row takes its rate from (halfOf), so
// -run fixed measures authz-session-cached's max rate first.
func selectScenarios(all []scenario, re *regexp.Regexp) []scenario {
	need := make(map[string]bool)
	for _, sc := range all {
		if re.MatchString(sc.name) && sc.halfOf != "" {
			need[sc.halfOf] = true
		}
	}
	var out []scenario
	for _, sc := range all {
		if re.MatchString(sc.name) || need[sc.name] {
			out = append(out, sc)
		}
	}
	return out
}

// sample is one row's measurement in one round.
type sample struct {
	res       loadResult
	serverCPU time.Duration // serving processes' CPU per request
	redisCPU  time.Duration // redis-server's CPU per request
	redisCmds float64       // Redis commands per request
	redisMix  string        // the same by command name
	rss       int64         // the first serving process's RSS after the run
	other     float64       // CPUs used by processes outside the bench, on average
}

func measure(ctx context.Context, st *stack, sc scenario, all []proc, gen func(context.Context) (loadResult, error)) (sample, error) {
	sum := func(ps []proc) time.Duration {
		var d time.Duration
		for _, p := range ps {
			d += p.cpuTime()
		}
		return d
	}
	cmds0, err := redisCommands(ctx, st.rdb)
	if err != nil {
		return sample{}, err
	}
	cpu0, all0, rcpu0, mach0 := sum(sc.procs), sum(all), procCPU(st.redis.PID()), machineCPU()
	t0 := time.Now()
	res, err := gen(ctx)
	if err != nil {
		return sample{}, err
	}
	elapsed := time.Since(t0)
	s := sample{res: res}
	ours := sum(all) - all0 + procCPU(st.redis.PID()) - rcpu0 + res.genCPU
	s.other = max(float64(machineCPU()-mach0-ours)/float64(elapsed), 0)
	cmds1, err := redisCommands(ctx, st.rdb)
	if err != nil {
		return sample{}, err
	}
	if res.requests > 0 {
		s.serverCPU = (sum(sc.procs) - cpu0) / time.Duration(res.requests)
		s.redisCPU = (procCPU(st.redis.PID()) - rcpu0) / time.Duration(res.requests)
	}
	s.redisCmds, s.redisMix = commandsDelta(cmds0, cmds1, res.requests)
	s.rss = sc.procs[0].rss()
	return s, nil
}

// probe sends one request and checks the answer, so a run never measures
// a stream of 401s.
func probe(ctx context.Context, sc scenario, st *stack) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sc.url, nil)
	if err != nil {
		return err
	}
	for k, v := range sc.headers {
		req.Header.Set(k, v)
	}
	if sc.random {
		req.Header.Set("Cookie", st.cookieName+"="+st.cookies[0])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("probe answered %d, want 2xx", resp.StatusCode)
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
