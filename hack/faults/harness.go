package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gatewarden/gatewarden/hack/stack"
)

// Mode selects how long the harness runs.
type Mode string

const (
	// ModeShort runs every phase briefly (about a minute and a half in all): what CI runs.
	ModeShort Mode = "short"
	// ModeFull runs every phase for longer (about three and a half minutes): the figures to report.
	ModeFull Mode = "full"
	// ModeSoak repeats the standalone-Redis phases (full timing) for Config.Soak (10 minutes
	// by default) and reports RSS, goroutines and open connections of every process at each
	// minute.
	ModeSoak Mode = "soak"
)

// Config configures Run.
type Config struct {
	Mode  Mode        // "" = ModeShort
	Proxy stack.Proxy // front proxy; "" = the embedded Caddy
	// Binaries are prebuilt programs; zero = built into a temporary directory.
	Binaries stack.Binaries
	RepoRoot string        // "" = found above the working directory
	Soak     time.Duration // soak length; 0 = 10 minutes
	Out      io.Writer     // the report; nil = discard
	Logs     io.Writer     // the parts' logs; nil = discard
}

// timing of one phase: load without a fault, the fault, load after it.
type timing struct{ before, fault, after time.Duration }

func (c Config) timing() timing {
	if c.Mode == ModeShort || c.Mode == "" {
		return timing{before: 1500 * time.Millisecond, fault: 3 * time.Second, after: 3500 * time.Millisecond}
	}
	return timing{before: 3 * time.Second, fault: 8 * time.Second, after: 8 * time.Second}
}

// Access tokens live 30s and sessions refresh them 27s before they expire, so every session
// refreshes about every 3s: the IdP phase always meets refreshes. Bearer clients fetch a new
// token every 12s, so theirs outlives the longest IdP outage.
const (
	accessTokenTTL = 30 * time.Second
	refreshWindow  = 27 * time.Second
	bearerRefetch  = 12 * time.Second
	pace           = 100 * time.Millisecond // per client: about 70 requests/s in all
)

// PhaseReport is one phase's figures.
type PhaseReport struct {
	Name        string
	Requests    int
	WrongAllows int
	WrongDenies int
	LostSession int // 401s for sessions the fault destroyed (Redis restarted empty)
	Status5xx   int
	Errors      int // no answer
	Other       int
	P50, P99    time.Duration
	// Recovery is the time from the end of the fault to the end of the last request sent
	// after it whose answer was not the due one (0 when there was none); -1 when no request
	// sent after the fault got its due answer.
	Recovery time.Duration
	// Outage is the time from the first to the last answer of the phase that was not the due
	// one (0 when all were due).
	Outage time.Duration
	// Samples of wrong answers, and of the answers after the fault that were not the due
	// ones (what the recovery time measures), for the report.
	Wrong, Late []string
}

// Report is a run's result.
type Report struct {
	Phases []PhaseReport
	Stats  [][]ProcStats // soak only: one sample of every process per minute
}

// WrongAllows sums every phase's wrong allows.
func (r Report) WrongAllows() int {
	n := 0
	for _, p := range r.Phases {
		n += p.WrongAllows
	}
	return n
}

// Run starts the system with two authproxy replicas behind the gateway, keeps the mixed load
// running, injects each fault in turn and returns the figures: first with a standalone
// redis-server (every phase), then (short and full modes) with a Sentinel deployment for the
// failover. Everything listens on 127.0.0.1; every process it starts is stopped before it
// returns.
func Run(ctx context.Context, cfg Config) (rep Report, err error) {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Soak == 0 {
		cfg.Soak = 10 * time.Minute
	}
	fmt.Fprintf(cfg.Out, "faults: %s mode, proxy %s, 2 authproxy replicas, %d clients every %v\n", modeName(cfg.Mode), cfg.Proxy, len(clients()), pace)
	err = runDeployment(ctx, cfg, stack.RedisServer, standalonePhases, &rep)
	if err == nil && cfg.Mode != ModeSoak {
		err = runDeployment(ctx, cfg, stack.RedisSentinel, sentinelPhases, &rep)
	}
	if cfg.Mode != ModeSoak {
		writeTable(cfg.Out, rep.Phases)
		return rep, err
	}
	fmt.Fprintln(cfg.Out, "faults: soak summary")
	writeTable(cfg.Out, mergePhases(rep.Phases))
	writeStats(cfg.Out, rep.Stats)
	return rep, err
}

// runDeployment starts the stack with one kind of Redis, runs its phases under the load (in
// soak mode again and again for cfg.Soak, sampling every process each minute) and stops it.
func runDeployment(ctx context.Context, cfg Config, redisMode stack.RedisMode,
	phasesOf func(*stack.Stack, *links, *sessionEpoch) []phase, rep *Report,
) (err error) {
	l := newLinks()
	defer l.close()
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	s, err := stack.Start(startCtx, stack.Options{
		Proxy: cfg.Proxy, Binaries: cfg.Binaries, RepoRoot: cfg.RepoRoot,
		Redis: redisMode, AuthProxyReplicas: 2, Intercept: l.intercept,
		Output: cfg.Logs, LogLevel: "warn",
		AuthProxyArgs: []string{"--refresh-window=" + refreshWindow.String()},
		DevIDPArgs:    []string{"--access-token-ttl=" + accessTokenTTL.String()},
	})
	if err != nil {
		return fmt.Errorf("faults: start the stack (%s): %w", redisMode, err)
	}
	defer func() { err = errors.Join(err, s.Close()) }()

	rec := &recorder{}
	epoch := &sessionEpoch{}
	var ws []*worker
	for _, c := range clients() {
		ws = append(ws, &worker{c: c, s: s, rec: rec, epoch: epoch, pace: pace, max: 1 << 20, tokenTT: bearerRefetch})
	}
	if err := setupWorkers(startCtx, ws); err != nil {
		return err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.run(loadCtx) })
	}
	defer func() { stopLoad(); wg.Wait() }()

	phases := phasesOf(s, l, epoch)
	tm := cfg.timing()
	// samples receives the soak's per-minute samples; they are printed between phases, so
	// the report is written from this goroutine only.
	samples := make(chan []ProcStats, 64)
	drain := func() {
		for {
			select {
			case st := <-samples:
				rep.Stats = append(rep.Stats, st)
				fmt.Fprintf(cfg.Out, "faults: minute %d\n", st[0].Minute)
				writeStats(cfg.Out, [][]ProcStats{st})
			default:
				return
			}
		}
	}
	var end time.Time // soak: no new phase after this
	runOnce := func() error {
		for _, ph := range phases {
			if !end.IsZero() && time.Now().After(end) {
				return nil
			}
			pr, err := runPhase(ctx, ph, tm, rec)
			if err != nil {
				return err
			}
			rep.Phases = append(rep.Phases, pr)
			fmt.Fprintf(cfg.Out, "faults: %-24s %5d requests, %d wrong allows, %d wrong denials, %d 5xx, recovery %v\n",
				pr.Name, pr.Requests, pr.WrongAllows, pr.WrongDenies, pr.Status5xx, fmtRecovery(pr.Recovery))
			drain()
		}
		return nil
	}
	if cfg.Mode != ModeSoak {
		return runOnce()
	}
	end = time.Now().Add(cfg.Soak)
	sampler := newSampler(s)
	rep.Stats = append(rep.Stats, sampler.sample(0))
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var wgS sync.WaitGroup
	wgS.Go(func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for minute := 1; ; minute++ {
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
			select {
			case samples <- sampler.sample(minute):
			case <-sampleCtx.Done():
				return
			}
		}
	})
	for err == nil && time.Now().Before(end) {
		err = runOnce()
	}
	stopSampling()
	wgS.Wait()
	drain()
	rep.Stats = append(rep.Stats, sampler.sample(-1))
	return err
}

func modeName(m Mode) Mode {
	if m == "" {
		return ModeShort
	}
	return m
}

// phase is one fault: start injects it, end removes it (and waits until the part is back).
type phase struct {
	name       string
	start, end func(context.Context) error
}

// sentinelPhases run against a Sentinel deployment (master, replica, one sentinel).
func sentinelPhases(s *stack.Stack, _ *links, _ *sessionEpoch) []phase {
	nop := func(context.Context) error { return nil }
	return []phase{
		{name: "steady (sentinel)", start: nop, end: nop},
		{
			// The master is killed; the sentinel sees it down after 1s and promotes the
			// replica, which holds the sessions (no session may be lost). The old master comes
			// back (empty) only once the failover is done, and the sentinel makes it a replica.
			name:  "sentinel failover",
			start: func(context.Context) error { return s.Kill(stack.PartRedis) },
			end: func(ctx context.Context) error {
				for {
					if a, err := s.SentinelMasterAddr(ctx); err == nil && a != s.RedisAddr {
						return s.Restart(ctx, stack.PartRedis)
					}
					if err := sleep(ctx, 50*time.Millisecond); err != nil {
						return fmt.Errorf("faults: no failover: %w", err)
					}
				}
			},
		},
	}
}

// standalonePhases run against a single redis-server behind a fault proxy.
func standalonePhases(s *stack.Stack, l *links, epoch *sessionEpoch) []phase {
	nop := func(context.Context) error { return nil }
	return []phase{
		{name: "steady (no fault)", start: nop, end: nop},
		{
			name: "redis killed+restarted",
			start: func(context.Context) error {
				if err := s.Kill(stack.PartRedis); err != nil {
					return err
				}
				epoch.wipe() // no persistence: every session is gone
				return nil
			},
			end: func(ctx context.Context) error { return s.Restart(ctx, stack.PartRedis) },
		},
		{
			name:  "redis SIGSTOP/SIGCONT",
			start: func(context.Context) error { return s.Signal(stack.PartRedis, syscall.SIGSTOP) },
			end:   func(context.Context) error { return s.Signal(stack.PartRedis, syscall.SIGCONT) },
		},
		{
			name: "redis slow+resets",
			start: func(ctx context.Context) error {
				// 250ms each way on every Redis reply, and half the new connections reset.
				if err := l.toxic(stack.LinkAuthProxyRedis, `{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":250,"jitter":50}}`); err != nil {
					return err
				}
				return l.toxic(stack.LinkAuthProxyRedis, `{"name":"resets","type":"reset_peer","stream":"upstream","toxicity":0.5,"attributes":{"timeout":0}}`)
			},
			end: func(ctx context.Context) error { return l.clear(ctx, stack.LinkAuthProxyRedis) },
		},
		{
			name:  "idp down (refreshes)",
			start: func(context.Context) error { return l.down(stack.LinkIdP) },
			end:   func(context.Context) error { return l.up(stack.LinkIdP) },
		},
		{
			name:  "authproxy replica killed",
			start: func(context.Context) error { return s.Kill("authproxy-2") },
			end:   func(ctx context.Context) error { return s.Restart(ctx, "authproxy-2") },
		},
		{
			name:  "jwks unreachable",
			start: func(context.Context) error { return l.down(stack.LinkServicesJWKS) },
			end:   func(context.Context) error { return l.up(stack.LinkServicesJWKS) },
		},
	}
}

// runPhase injects one fault under the running load and measures it.
func runPhase(ctx context.Context, ph phase, tm timing, rec *recorder) (PhaseReport, error) {
	begin := time.Now()
	if err := sleep(ctx, tm.before); err != nil {
		return PhaseReport{}, err
	}
	if err := ph.start(ctx); err != nil {
		return PhaseReport{}, fmt.Errorf("faults: %s: inject: %w", ph.name, err)
	}
	if err := sleep(ctx, tm.fault); err != nil {
		return PhaseReport{}, err
	}
	endCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err := ph.end(endCtx)
	cancel()
	if err != nil {
		return PhaseReport{}, fmt.Errorf("faults: %s: heal: %w", ph.name, err)
	}
	healed := time.Now()
	if err := sleep(ctx, tm.after); err != nil {
		return PhaseReport{}, err
	}
	return summarize(ph.name, rec.between(begin, time.Now()), healed), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("faults: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// summarize counts a phase's results; healed is when the fault ended.
func summarize(name string, rs []result, healed time.Time) PhaseReport {
	pr := PhaseReport{Name: name}
	lat := make([]time.Duration, 0, len(rs))
	var lastBad, firstAny, lastAny time.Time
	var goodAfter bool
	for _, r := range rs {
		pr.Requests++
		lat = append(lat, r.latency)
		switch r.outcome {
		case outcomeOK:
			if r.start.After(healed) {
				goodAfter = true
			}
			continue
		case outcomeWrongAllow:
			pr.WrongAllows++
		case outcomeWrongDeny:
			pr.WrongDenies++
		case outcomeLost:
			pr.LostSession++
		case outcome5xx:
			pr.Status5xx++
		case outcomeError:
			pr.Errors++
		case outcomeOther:
			pr.Other++
		}
		if firstAny.IsZero() || r.done.Before(firstAny) {
			firstAny = r.done
		}
		if r.done.After(lastAny) {
			lastAny = r.done
		}
		// Every request sent after the fault whose answer was not the due one delays
		// recovery, lost sessions included (the client is back once it has logged in again).
		// Requests still in flight when the fault ended count in the phase, not here.
		if r.start.After(healed) && r.done.After(lastBad) {
			lastBad = r.done
		}
		desc := fmt.Sprintf("%s %s -> %s", r.client, r.path, statusText(r))
		if (r.outcome == outcomeWrongAllow || r.outcome == outcomeWrongDeny || r.outcome == outcomeOther) && len(pr.Wrong) < 5 {
			pr.Wrong = append(pr.Wrong, desc)
		}
		if r.start.After(healed) && len(pr.Late) < 5 {
			pr.Late = append(pr.Late, fmt.Sprintf("+%v %s", r.done.Sub(healed).Round(time.Millisecond), desc))
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		pr.P50 = lat[len(lat)/2]
		pr.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	pr.Outage = lastAny.Sub(firstAny)
	switch {
	case !goodAfter:
		pr.Recovery = -1
	case lastBad.After(healed):
		pr.Recovery = lastBad.Sub(healed)
	}
	return pr
}

func fmtRecovery(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(time.Millisecond).String()
}

// mergePhases adds up the soak's repeated phases by name.
func mergePhases(ps []PhaseReport) []PhaseReport {
	var out []PhaseReport
	idx := map[string]int{}
	for _, p := range ps {
		i, ok := idx[p.Name]
		if !ok {
			idx[p.Name] = len(out)
			out = append(out, p)
			continue
		}
		m := &out[i]
		m.Requests += p.Requests
		m.WrongAllows += p.WrongAllows
		m.WrongDenies += p.WrongDenies
		m.LostSession += p.LostSession
		m.Status5xx += p.Status5xx
		m.Errors += p.Errors
		m.Other += p.Other
		m.P50, m.P99, m.Outage = max(m.P50, p.P50), max(m.P99, p.P99), max(m.Outage, p.Outage)
		if p.Recovery < 0 || m.Recovery < 0 {
			m.Recovery = -1
		} else {
			m.Recovery = max(m.Recovery, p.Recovery)
		}
	}
	return out
}

// writeTable prints the phase table.
func writeTable(w io.Writer, ps []PhaseReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\twrong allows\twrong denials\tsessions lost\t5xx\tno answer\tother\tp50\tp99\toutage\trecovery\t")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%v\t%v\t%v\t%s\t\n", p.Name, p.Requests, p.WrongAllows, p.WrongDenies,
			p.LostSession, p.Status5xx, p.Errors, p.Other, p.P50.Round(100*time.Microsecond), p.P99.Round(100*time.Microsecond),
			p.Outage.Round(time.Millisecond), fmtRecovery(p.Recovery))
	}
	_ = tw.Flush()
	for _, p := range ps {
		for _, s := range p.Wrong {
			fmt.Fprintf(w, "  %s: wrong: %s\n", p.Name, s)
		}
		for _, s := range p.Late {
			fmt.Fprintf(w, "  %s: after the fault: %s\n", p.Name, s)
		}
	}
}

func statusText(r result) string {
	if r.outcome == outcomeError {
		return "no answer"
	}
	return fmt.Sprintf("%d", r.status)
}
