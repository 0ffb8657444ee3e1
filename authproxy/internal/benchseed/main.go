// Command benchseed copies one login session into many, for hack/bench's
// "distinct sessions picked at random" rows: it loads the session of the
// cookie read from standard input's first line with the Redis store, then
// creates -n sessions of the same user with Store.Create (each sealed under
// its own new cookie, as a login would store it) and prints their cookies,
// one a line. It lives under authproxy/ because the session store is
// internal to authproxy; it is a development tool, not part of the gateway.
//
//	benchseed -redis 127.0.0.1:6379 -n 100000 < admin-cookie > cookies
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "benchseed: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchseed", flag.ContinueOnError)
	addr := fs.String("redis", "127.0.0.1:6379", "Redis address (standalone)")
	n := fs.Int("n", 1000, "sessions to create")
	workers := fs.Int("workers", 16, "concurrent Create calls")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *workers < 1 {
		return errors.New("need -n >= 1 and -workers >= 1")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read cookie: %w", err)
	}
	cookie := strings.TrimSpace(line)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rdb := session.NewRedisClient(session.Options{Addrs: []string{*addr}, PoolSize: 2 * *workers})
	defer func() { _ = rdb.Close() }()
	store, err := session.NewRedisStore(session.Config{Client: rdb})
	if err != nil {
		return err
	}
	tmpl, err := store.Load(ctx, cookie)
	if err != nil {
		return fmt.Errorf("load the template session: %w", err)
	}

	out := bufio.NewWriter(stdout)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan struct{})
	)
	for range *workers {
		wg.Go(func() {
			for range next {
				c, err := store.Create(ctx, tmpl.Clone())
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				} else if err == nil {
					_, _ = out.WriteString(c + "\n")
				}
				mu.Unlock()
			}
		})
	}
	for range *n {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("create: %w", firstErr)
	}
	return out.Flush()
}
