// Command probe tries network targets from inside a test pod and reports what happened, for the
// single-node test cluster's NetworkPolicy and reachability checks:
//
//	probe [-timeout 3s] [-delay 0s] [-termination-log /dev/termination-log] TARGET...
//
// A TARGET is tcp:HOST:PORT (a TCP connect) or an http:// or https:// URL (a GET; redirects are not
// followed). Targets are tried at once, each with the timeout. probe prints one JSON line per
// target, in the order given: {"target", "outcome", "status", "error", "elapsed_ms"}, where outcome
// is connected (for a URL: any HTTP response, its code in status), refused, timeout, dns-error or
// error. -delay waits before the first try: a NetworkPolicy engine learns a new pod's address a
// moment after the pod starts, and a probe must meet the policy, not that moment. It also writes the JSON array of the results to the termination log if that file exists
// and is writable, so the harness reads them from the pod's status without exec. It exits 0 when
// every target was tried, whatever the outcomes; 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, probes every target and reports; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "time allowed to each target")
	delay := fs.Duration("delay", 0, "time to wait before probing")
	terminationLog := fs.String("termination-log", "/dev/termination-log", "file the JSON array of results goes to when it exists and is writable (empty: none)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: probe [flags] tcp:HOST:PORT|http://...|https://... ...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	targets := fs.Args()
	if len(targets) == 0 || *timeout <= 0 {
		fs.Usage()
		return 2
	}
	for _, target := range targets {
		if err := checkTarget(target); err != nil {
			fmt.Fprintf(stderr, "probe: %v\n", err)
			return 2
		}
	}
	if *delay > 0 {
		time.Sleep(*delay)
	}
	results := NewProber(*timeout, nil).ProbeAll(ctx, targets)
	if err := report(results, stdout, *terminationLog); err != nil {
		fmt.Fprintf(stderr, "probe: %v\n", err)
		return 1
	}
	return 0
}
