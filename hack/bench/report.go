package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// reportInfo is what the report says about the run besides the rows.
type reportInfo struct {
	gen      string
	load     string
	rounds   int
	busy     float64
	sessions int
	conns    int
	st       *stack
}

// row is one scenario's rounds, averaged unless a round had errors.
type row struct {
	sc      scenario
	samples []sample
	bad     bool // some round had non-2xx answers or socket errors: not averaged
	mean    sample
}

func summarize(sc scenario, ss []sample) row {
	r := row{sc: sc, samples: ss}
	if len(ss) == 0 {
		r.bad = true
		return r
	}
	n := float64(len(ss))
	for _, s := range ss {
		if s.res.bad > 0 || s.res.sockErrs > 0 {
			r.bad = true
		}
		r.mean.res.rps += s.res.rps / n
		r.mean.res.p50 += time.Duration(float64(s.res.p50) / n)
		r.mean.res.p99 += time.Duration(float64(s.res.p99) / n)
		r.mean.serverCPU += time.Duration(float64(s.serverCPU) / n)
		r.mean.redisCPU += time.Duration(float64(s.redisCPU) / n)
		r.mean.redisCmds += s.redisCmds / n
		r.mean.rss = max(r.mean.rss, s.rss)
		r.mean.other = max(r.mean.other, s.other)
	}
	return r
}

func report(w io.Writer, info reportInfo, scs []scenario, samples map[string][]sample) {
	rows := make(map[string]row)
	var order []row
	for _, sc := range scs {
		r := summarize(sc, samples[sc.name])
		rows[sc.name] = r
		order = append(order, r)
	}
	var busiest float64
	var busyRows []string
	for _, r := range order {
		busiest = max(busiest, r.mean.other)
		if r.mean.other > info.busy {
			busyRows = append(busyRows, r.sc.name)
		}
	}
	fmt.Fprintf(w, "## authproxy decision load (hack/bench)\n\n")
	fmt.Fprintf(w, "Load: %s, %d interleaved rounds. Machine: %d CPUs, %s, load average %s at start.\n",
		info.gen, info.rounds, runtime.NumCPU(), runtime.Version(), info.load)
	if len(busyRows) == 0 {
		fmt.Fprintf(w, "Run: **clean** (other processes used at most %.2f CPUs during any row; limit %.2f).\n\n", busiest, info.busy)
	} else {
		fmt.Fprintf(w, "Run: **NOT CLEAN**: other processes used up to %.2f CPUs (limit %.2f) during %s.\n\n",
			busiest, info.busy, strings.Join(busyRows, ", "))
	}
	fmt.Fprintln(w, "| row | req/s | ratio | p50 | p99 | non-2xx | server CPU/req | redis CPU/req | redis cmds/req | RSS | other CPUs | req/s per round |")
	fmt.Fprintln(w, "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range order {
		var perRound, errs []string
		for i, s := range r.samples {
			perRound = append(perRound, fmt.Sprintf("%.0f", s.res.rps))
			if s.res.bad > 0 || s.res.sockErrs > 0 {
				errs = append(errs, fmt.Sprintf("round %d: %d non-2xx, %d socket", i+1, s.res.bad, s.res.sockErrs))
			}
		}
		if r.bad {
			note := "no sample"
			if len(errs) > 0 {
				note = strings.Join(errs, "; ")
			}
			fmt.Fprintf(w, "| %s | **errors, not averaged** | | | | %s | | | | | %.2f | %s |\n", r.sc.name, note, r.mean.other, strings.Join(perRound, " / "))
			continue
		}
		ratio := "-"
		if ref, ok := rows[r.sc.ref]; ok && !ref.bad && ref.mean.res.rps > 0 {
			ratio = fmt.Sprintf("%.2f of %s", r.mean.res.rps/ref.mean.res.rps, r.sc.ref)
		}
		rps := fmt.Sprintf("%.0f", r.mean.res.rps)
		if r.sc.halfOf != "" {
			rps += " (fixed)"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | 0 | %s | %s | %.2f | %s | %.2f | %s |\n", r.sc.name, rps, ratio,
			fmtDur(r.mean.res.p50), fmtDur(r.mean.res.p99), fmtDur(r.mean.serverCPU), fmtDur(r.mean.redisCPU),
			r.mean.redisCmds, fmtMiB(r.mean.rss), r.mean.other, strings.Join(perRound, " / "))
	}
	fmt.Fprintln(w)
	for _, r := range order {
		fmt.Fprintf(w, "- `%s`: %s\n", r.sc.name, r.sc.what)
	}
	fmt.Fprintln(w, "\nRedis commands per request, by command, last round:")
	for _, r := range order {
		if n := len(r.samples); n > 0 && r.samples[n-1].redisMix != "" {
			fmt.Fprintf(w, "- `%s`: %s\n", r.sc.name, r.samples[n-1].redisMix)
		}
	}
	fmt.Fprintf(w, "\nreq/s, p50, p99, CPU and Redis figures are means over the rounds; RSS is the largest after any round"+
		" (of authproxy, oauth2-proxy, nginx's processes or this program, whichever serves the row first);"+
		" other CPUs is the busiest round's average of CPU time used by processes outside the bench (/proc/stat less"+
		" every bench process and the load generator). server CPU/req sums the processes on the path (for nginx rows:"+
		" nginx, the auth service and this program's bare handler). /proc times have 10 ms ticks.\n")
	st := info.st
	fmt.Fprintf(w, "\nSession record: %d bytes sealed in Redis.", st.recordLen)
	if st.redisPerSession > 0 {
		fmt.Fprintf(w, " Redis memory per session (used_memory growth over %d seeded sessions, index included): %d bytes.", info.sessions, st.redisPerSession)
	}
	fmt.Fprintln(w)
	if r, ok := rows["authz-session-random"]; ok {
		if b, ok := bytesPerSession(r.mean.rss, st); ok {
			fmt.Fprintf(w, "\nauthz-session-random: its authproxy's RSS was %s before any random load and %s after the row (largest over the rounds):"+
				" %d bytes per cached session over %d distinct sessions served (each seeded session once in the warm-up; cache bound %d entries).\n",
				fmtMiB(st.spreadRSS0), fmtMiB(r.mean.rss), b, len(st.cookies), st.spreadEntries)
		}
	}
	targets(w, rows)
}

// targets prints issue 14's targets with this run's ratios.
func targets(w io.Writer, rows map[string]row) {
	type target struct {
		what   string
		value  func() (float64, bool)
		format string
		met    func(float64) bool
	}
	ratio := func(a, b string) func() (float64, bool) {
		return func() (float64, bool) {
			ra, okA := rows[a]
			rb, okB := rows[b]
			if !okA || !okB || ra.bad || rb.bad || rb.mean.res.rps == 0 {
				return 0, false
			}
			return ra.mean.res.rps / rb.mean.res.rps, true
		}
	}
	cpuRatio := func(a, b string) func() (float64, bool) {
		return func() (float64, bool) {
			ra, okA := rows[a]
			rb, okB := rows[b]
			if !okA || !okB || ra.bad || rb.bad || rb.mean.serverCPU == 0 {
				return 0, false
			}
			return float64(ra.mean.serverCPU) / float64(rb.mean.serverCPU), true
		}
	}
	rssRatio := func() (float64, bool) {
		ra, okA := rows["authz-session-cached"]
		rb, okB := rows["oauth2-proxy-auth"]
		if !okA || !okB || rb.mean.rss == 0 {
			return 0, false
		}
		return float64(ra.mean.rss) / float64(rb.mean.rss), true
	}
	p99 := func(name string) func() (float64, bool) {
		return func() (float64, bool) {
			r, ok := rows[name]
			if !ok || r.bad {
				return 0, false
			}
			return float64(r.mean.res.p99) / float64(time.Millisecond), true
		}
	}
	atLeast := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	atMost := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	ts := []target{
		{"cached session decision req/s / bare >= 0.85", ratio("authz-session-cached", "bare"), "%.2f", atLeast(0.85)},
		{"cached session decision CPU/req / bare <= 1.3", cpuRatio("authz-session-cached", "bare"), "%.2f", atMost(1.3)},
		{"random sessions req/s / one session >= 0.9", ratio("authz-session-random", "authz-session-cached"), "%.2f", atLeast(0.9)},
		{"cache off req/s / one Redis GET >= 0.8", ratio("authz-session-redis", "bare-redis-get"), "%.2f", atLeast(0.8)},
		{"nginx with authproxy / nginx alone >= 0.5", ratio("nginx-authproxy", "nginx-alone"), "%.2f", atLeast(0.5)},
		{"authproxy RSS / oauth2-proxy RSS <= 1", rssRatio, "%.2f", atMost(1)},
		{"p99 at half the max rate (cached) < 1 ms", p99("authz-session-cached-fixed"), "%.3f ms", func(v float64) bool { return v < 1 }},
		{"p99 of bare-decision at the same rate (no target; the ceiling)", p99("bare-decision-fixed"), "%.3f ms", nil},
		{"cached decision req/s / bare-decision (no target; bare-decision is the ceiling for a decision's bytes)", ratio("authz-session-cached", "bare-decision"), "%.2f", nil},
		{"authproxy cached req/s / oauth2-proxy (no target; the lead)", ratio("authz-session-cached", "oauth2-proxy-auth"), "%.2f", nil},
		{"nginx with oauth2-proxy / nginx alone (no target)", ratio("nginx-oauth2-proxy", "nginx-alone"), "%.2f", nil},
	}
	fmt.Fprintln(w, "\n| target (issue 14) | this run | met |")
	fmt.Fprintln(w, "| --- | ---: | --- |")
	for _, t := range ts {
		v, ok := t.value()
		if !ok {
			fmt.Fprintf(w, "| %s | not measured | - |\n", t.what)
			continue
		}
		met := "-"
		if t.met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[t.met(v)]
		}
		fmt.Fprintf(w, "| %s | "+t.format+" | %s |\n", t.what, v, met)
	}
}

func fmtMiB(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// progress is the stderr line after one row's run: its figures and the
// load generator's CPU per request (wrk's, or this process's for the
// fixed-rate generator). For the random row it adds the static row's
// generator CPU of the same round (wrk's Lua script should cost next to
// nothing) and the bytes per cached session.
func progress(sc scenario, s sample, samples map[string][]sample, round int, st *stack) string {
	r := s.res
	line := fmt.Sprintf("%.0f req/s, p50 %s, p99 %s, %d non-2xx, %d socket errors, server CPU/req %s",
		r.rps, fmtDur(r.p50), fmtDur(r.p99), r.bad, r.sockErrs, fmtDur(s.serverCPU))
	if g := genPerRequest(r); g > 0 {
		line += fmt.Sprintf(", gen CPU/req %s (%s)", fmtMicros(g), r.generator)
	}
	if r.maxLat > 0 {
		line += fmt.Sprintf(", p99.9 %s, max %s", fmtDur(r.p999), fmtDur(r.maxLat))
	}
	if r.slopP99 > 0 {
		line += fmt.Sprintf(", generator timer lateness p99 %s (not charged)", fmtMicros(r.slopP99))
	}
	if sc.random {
		if base := samples["authz-session-cached"]; len(base) >= round {
			if g := genPerRequest(base[round-1].res); g > 0 {
				line += fmt.Sprintf(" vs %s for authz-session-cached's static request", fmtMicros(g))
			}
		}
		if b, ok := bytesPerSession(s.rss, st); ok {
			line += fmt.Sprintf("; RSS %s before any random load, %s after: %d bytes per cached session (%d sessions)",
				fmtMiB(st.spreadRSS0), fmtMiB(s.rss), b, len(st.cookies))
		}
	}
	return line
}

func genPerRequest(r loadResult) time.Duration {
	if r.requests <= 0 {
		return 0
	}
	return r.genCPU / time.Duration(r.requests)
}

// bytesPerSession is the random row's authproxy RSS growth over its RSS
// before any random load, per distinct session served (every seeded one:
// the warm-up sends each).
func bytesPerSession(rss int64, st *stack) (int64, bool) {
	if st == nil || st.spreadRSS0 <= 0 || rss <= 0 || len(st.cookies) == 0 {
		return 0, false
	}
	return (rss - st.spreadRSS0) / int64(len(st.cookies)), true
}

func fmtMicros(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}
