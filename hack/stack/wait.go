package stack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// pollInterval is the pause between readiness probes.
const pollInterval = 50 * time.Millisecond

// waitHTTP polls url until it answers 200, the timeout passes, ctx ends or proc (if any) exits.
func waitHTTP(ctx context.Context, url string, timeout time.Duration, proc *process) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return poll(ctx, url, timeout, proc, func(ctx context.Context) error { return testkit.HTTPOK(ctx, client, url) })
}

// waitTCP polls until address accepts a connection.
func waitTCP(ctx context.Context, address string, timeout time.Duration, proc *process) error {
	return poll(ctx, address, timeout, proc, func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", address)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// poll is testkit.Poll that also gives up when proc (if any) exits, and adds proc's last
// output to a timeout.
func poll(ctx context.Context, what string, timeout time.Duration, proc *process, probe func(context.Context) error) error {
	err := testkit.Poll(ctx, what, timeout, pollInterval, func(ctx context.Context) error {
		if proc != nil {
			if done, err := proc.exited(); done {
				return testkit.Abort(err)
			}
		}
		return probe(ctx)
	})
	if err == nil || proc == nil {
		return err
	}
	if done, _ := proc.exited(); done {
		return err
	}
	return fmt.Errorf("%w; last output:\n%s", err, proc.out.tail())
}
