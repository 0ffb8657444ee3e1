package stack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// pollInterval is the pause between readiness probes.
const pollInterval = 50 * time.Millisecond

// waitHTTP polls url until it answers 200, the timeout passes, ctx ends or proc (if any) exits.
func waitHTTP(ctx context.Context, url string, timeout time.Duration, proc *process) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return poll(ctx, timeout, proc, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		return nil
	})
}

// waitTCP polls until address accepts a connection.
func waitTCP(ctx context.Context, address string, timeout time.Duration, proc *process) error {
	return poll(ctx, timeout, proc, func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", address)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

func poll(ctx context.Context, timeout time.Duration, proc *process, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var last error
	for {
		if proc != nil {
			if done, err := proc.exited(); done {
				return err
			}
		}
		if last = probe(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if proc != nil {
				return fmt.Errorf("not ready after %v: %v; last output:\n%s", timeout, last, proc.out.tail())
			}
			return fmt.Errorf("not ready after %v: %v", timeout, last)
		case <-t.C:
		}
	}
}
