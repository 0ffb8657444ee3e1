package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// warmSessions sends one request per cookie (as "Cookie: cookieName=value"
// added to headers) to rawURL, back to back on conns connections, so that
// a measured run starts with every session loaded into authproxy's caches.
// Any socket error or non-2xx answer fails it: the seeded sessions must all
// be valid, or the row would measure refusals.
func warmSessions(ctx context.Context, rawURL string, headers map[string]string, cookieName string, cookies []string, conns int) error {
	spec, err := newFixedSpec(rawURL, headers, 1, conns, time.Second) // rate and duration unused
	if err != nil {
		return err
	}
	head := spec.request[:len(spec.request)-len("\r\n")] // without the blank line
	var (
		wg       sync.WaitGroup
		bad      atomic.Int64
		errOnce  sync.Once
		firstErr error
	)
	for i := range conns {
		wg.Go(func() {
			c := fixedConn{spec: spec, br: bufio.NewReaderSize(nil, 16<<10)}
			defer c.close()
			req := slices.Clone(head)
			for j := i; j < len(cookies) && ctx.Err() == nil; j += conns {
				req = append(append(append(append(req[:len(head)], "Cookie: "...), cookieName+"="...), cookies[j]...), "\r\n\r\n"...)
				status, err := c.roundTrip(ctx, req, time.Now())
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("warm-up: session %d: %w", j, err) })
					return
				}
				if status/100 != 2 {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(firstErr, ctx.Err()); err != nil {
		return err
	}
	if n := bad.Load(); n > 0 {
		return fmt.Errorf("warm-up: %d of %d sessions answered non-2xx", n, len(cookies))
	}
	return nil
}
