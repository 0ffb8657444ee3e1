package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// The fixed-rate generator runs in a child process of its own: this
// program re-executed with fixedChildEnv set, GOMAXPROCS=1, the job as JSON
// on stdin and the figures as JSON on stdout. So this process's servers
// (bare-decision at a fixed rate) keep both Ps, the generator's goroutines
// take turns on one thread (half the CPU per request of two threads waking
// each other: BenchmarkFixedRateGenerator -cpu 1,2), and its CPU time is
// its own (the child's rusage).

const fixedChildEnv = "GW_BENCH_FIXED_RATE_CHILD"

// fixedJob is what the child runs.
type fixedJob struct {
	URL      string            `json:"url"`
	Headers  map[string]string `json:"headers"`
	Rate     float64           `json:"rate"`
	Conns    int               `json:"conns"`
	Duration time.Duration     `json:"duration"`
}

// fixedReport is what the child measured.
type fixedReport struct {
	Scheduled int64         `json:"scheduled"`
	Answered  int64         `json:"answered"`
	Bad       int64         `json:"bad"`
	Errs      int64         `json:"errs"`
	Elapsed   time.Duration `json:"elapsed"`
	P50       time.Duration `json:"p50"`
	P99       time.Duration `json:"p99"`
	P999      time.Duration `json:"p999"`
	Max       time.Duration `json:"max"`
	Slop99    time.Duration `json:"slop99"`
}

// fixedChild is the child's main: one job from stdin, its report to stdout.
func fixedChild(stdin io.Reader, stdout io.Writer) int {
	var job fixedJob
	if err := json.NewDecoder(stdin).Decode(&job); err != nil {
		fmt.Fprintf(os.Stderr, "fixed-rate child: job: %v\n", err)
		return 2
	}
	spec, err := newFixedSpec(job.URL, job.Headers, job.Rate, job.Conns, job.Duration)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fixed-rate child: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), job.Duration+2*spec.timeout+5*time.Second)
	defer cancel()
	r := runFixed(ctx, spec)
	rep := fixedReport{
		Scheduled: r.scheduled, Answered: r.answered, Bad: r.bad, Errs: r.errs, Elapsed: r.elapsed,
		P50: r.hist.quantile(0.50), P99: r.hist.quantile(0.99), P999: r.hist.quantile(0.999), Max: r.hist.max,
		Slop99: r.slop.quantile(0.99),
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		fmt.Fprintf(os.Stderr, "fixed-rate child: %v\n", err)
		return 1
	}
	return 0
}

// runFixedRate drives spec (whose rate is set) with the fixed-rate
// generator on conns connections, in a child process. genCPU is the
// child's CPU time.
func runFixedRate(ctx context.Context, spec loadSpec, conns int) (loadResult, error) {
	self, err := os.Executable()
	if err != nil {
		return loadResult{}, err
	}
	job, err := json.Marshal(fixedJob{URL: spec.url, Headers: spec.headers, Rate: spec.rate, Conns: conns, Duration: spec.duration})
	if err != nil {
		return loadResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, spec.duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), fixedChildEnv+"=1", "GOMAXPROCS=1")
	cmd.Stdin = bytes.NewReader(job)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.Output()
	if err != nil {
		return loadResult{}, fmt.Errorf("fixed-rate generator: %w: %s", err, stderr.String())
	}
	var r fixedReport
	if err := json.Unmarshal(out, &r); err != nil {
		return loadResult{}, fmt.Errorf("fixed-rate generator's report: %w", err)
	}
	res := loadResult{
		requests: r.Answered, elapsed: r.Elapsed, bad: r.Bad, sockErrs: r.Errs,
		p50: r.P50, p99: r.P99, p999: r.P999, maxLat: r.Max, slopP99: r.Slop99,
		generator: fmt.Sprintf("fixed rate %.0f/s on %d connections, child process", spec.rate, conns),
		genCPU:    cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
	}
	if r.Answered == 0 {
		return res, fmt.Errorf("fixed rate: no answer of %d scheduled requests (%d errors)", r.Scheduled, r.Errs)
	}
	res.rps = float64(r.Answered) / r.Elapsed.Seconds()
	return res, nil
}
