// Command faults runs gatewarden's fault harness: the local stack (hack/stack) with two
// authproxy replicas behind the gateway, a steady mixed load checked answer by answer, and
// one fault at a time (Redis killed, paused, slow; the IdP down; a replica killed; the JWKS
// unreachable). It prints a table per phase; see hack/faults/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatewarden/gatewarden/hack/faults"
	"github.com/gatewarden/gatewarden/hack/stack"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", string(faults.ModeFull), "short (about 1.5 min, what CI runs), full (about 3.5 min) or soak (standalone Redis phases only)")
	soak := fs.Duration("soak", 10*time.Minute, "soak length (mode soak)")
	proxy := fs.String("proxy", string(stack.ProxyCaddyEmbedded), "front proxy: caddy-embedded, nginx or caddy")
	logs := fs.String("logs", "", "write the parts' logs to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	m := faults.Mode(*mode)
	if m != faults.ModeShort && m != faults.ModeFull && m != faults.ModeSoak {
		fmt.Fprintf(stderr, "faults: unknown mode %q\n", *mode)
		return 2
	}
	var logOut io.Writer
	if *logs != "" {
		f, err := os.Create(*logs)
		if err != nil {
			fmt.Fprintln(stderr, "faults:", err)
			return 1
		}
		defer f.Close()
		logOut = f
	}
	// Bounded: the longest mode plus start-up and shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), *soak+15*time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := faults.Run(ctx, faults.Config{Mode: m, Proxy: stack.Proxy(*proxy), Soak: *soak, Out: stdout, Logs: logOut})
	if err != nil {
		fmt.Fprintln(stderr, "faults:", err)
		return 1
	}
	if n := rep.WrongAllows(); n > 0 {
		fmt.Fprintf(stderr, "faults: %d wrong allows\n", n)
		return 1
	}
	return 0
}
