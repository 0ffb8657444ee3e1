package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadSpec is one bounded load run against one URL.
type loadSpec struct {
	url      string
	headers  map[string]string
	threads  int
	conns    int
	duration time.Duration
	// script is a wrk script (-s); cookies, with cookieName, is what the
	// built-in loop picks a Cookie from at random per request instead.
	script     string
	cookies    []string
	cookieName string
	// rate, when > 0, sends that many requests per second in all: the
	// fixed-rate generator (fixedrate.go) for the fixed row; the built-in
	// loop also honours it (its CPU per request is compared with the fixed-
	// rate generator's in BenchmarkFixedRateGenerator).
	rate float64
}

// loadResult is what a run measured.
type loadResult struct {
	requests  int64
	elapsed   time.Duration
	rps       float64
	p50, p99  time.Duration
	bad       int64 // non-2xx/3xx answers
	sockErrs  int64 // connect/read/write errors and timeouts
	generator string
	genCPU    time.Duration // the load generator's CPU time (wrk's or the fixed-rate child's; 0 for the built-in loop)
	// slopP99 is the fixed-rate generator's p99 timer lateness (see
	// fixedrate.go); p999 and maxLat its tail (0 for wrk and the built-in loop).
	slopP99, p999, maxLat time.Duration
}

// runWrk drives spec with wrk (--latency) and parses its report. The run is
// bounded by wrk's -d plus a grace period.
func runWrk(ctx context.Context, wrk string, spec loadSpec) (loadResult, error) {
	secs := max(int(spec.duration.Round(time.Second)/time.Second), 1)
	args := []string{
		"-t", strconv.Itoa(spec.threads), "-c", strconv.Itoa(spec.conns),
		"-d", strconv.Itoa(secs) + "s", "--timeout", "2s", "--latency",
	}
	for _, k := range slices.Sorted(maps.Keys(spec.headers)) {
		args = append(args, "-H", k+": "+spec.headers[k])
	}
	if spec.script != "" {
		args = append(args, "-s", spec.script)
	}
	args = append(args, spec.url)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	res, err := parseWrk(string(out))
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk output: %w\n%s", err, out)
	}
	res.generator = "wrk"
	res.genCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, nil
}

// parseWrk reads wrk 4.x's report: "Requests/sec:", the --latency
// distribution, "N requests in Xs", non-2xx/3xx and socket error lines.
func parseWrk(out string) (loadResult, error) {
	var res loadResult
	var haveRPS, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return res, fmt.Errorf("requests/sec: %w", err)
			}
			res.rps, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return res, err
			}
			if f[0] == "50%" {
				res.p50, have50 = d, true
			} else {
				res.p99, have99 = d, true
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return res, fmt.Errorf("request count: %w", err)
			}
			res.requests = n
			if d, err := parseWrkDuration(strings.TrimSuffix(f[3], ",")); err == nil {
				res.elapsed = d
			}
		case len(f) == 5 && strings.Join(f[:4], " ") == "Non-2xx or 3xx responses:":
			n, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return res, fmt.Errorf("non-2xx count: %w", err)
			}
			res.bad = n
		case len(f) >= 3 && f[0] == "Socket" && f[1] == "errors:":
			// "Socket errors: connect 0, read 0, write 0, timeout 0"
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil {
					return res, fmt.Errorf("socket errors: %w", err)
				}
				res.sockErrs += n
			}
		}
	}
	if !haveRPS || !have50 || !have99 {
		return res, errors.New("no Requests/sec or latency distribution (was --latency given?)")
	}
	return res, nil
}

// parseWrkDuration reads wrk's "612.00us", "1.23ms", "2.00s", "1.00m".
func parseWrkDuration(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %w", s, err)
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("duration %q: unknown unit", s)
}

// runBuiltin is the fallback load generator: spec.conns goroutines, each
// with its own keep-alive connection, sending requests back to back until
// spec.duration is over. It runs inside this process, so it competes with
// the servers for the same cores even more than wrk does.
func runBuiltin(ctx context.Context, spec loadSpec) (loadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: spec.conns, MaxConnsPerHost: spec.conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, spec.duration)
	defer cancel()

	type worker struct {
		lat       []time.Duration
		bad, errs int64
	}
	workers := make([]worker, spec.conns)
	start := time.Now()
	// With a rate, worker i sends its k-th request at start + (k*conns+i)*interval.
	var interval time.Duration
	if spec.rate > 0 {
		interval = time.Duration(float64(time.Second) / spec.rate)
	}
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.lat = make([]time.Duration, 0, 1<<14)
		rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
		wg.Go(func() {
			for k := 0; ctx.Err() == nil; k++ {
				t0 := time.Now()
				if interval > 0 {
					t0 = start.Add(time.Duration(k*spec.conns+i) * interval)
					if d := time.Until(t0); d > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(d):
						}
					}
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, spec.url, nil)
				for k, v := range spec.headers {
					req.Header.Set(k, v)
				}
				if len(spec.cookies) > 0 {
					req.Header.Set("Cookie", spec.cookieName+"="+spec.cookies[rng.IntN(len(spec.cookies))])
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						w.errs++
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				w.lat = append(w.lat, time.Since(t0))
				if resp.StatusCode >= 400 {
					w.bad++
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	res := loadResult{elapsed: elapsed, generator: "built-in"}
	for _, w := range workers {
		all = append(all, w.lat...)
		res.bad += w.bad
		res.sockErrs += w.errs
	}
	if len(all) == 0 {
		return res, errors.New("no request completed")
	}
	slices.Sort(all)
	res.requests = int64(len(all))
	res.rps = float64(len(all)) / elapsed.Seconds()
	res.p50 = all[len(all)/2]
	res.p99 = all[min(len(all)*99/100, len(all)-1)]
	return res, nil
}
