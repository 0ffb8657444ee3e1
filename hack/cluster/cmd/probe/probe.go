package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Outcomes of a probe.
const (
	Connected = "connected" // TCP connected; for a URL, an HTTP response came back
	Refused   = "refused"   // connection refused (a closed port, or a REJECT rule)
	Timeout   = "timeout"   // no answer in time (a DROP rule, or a server that hangs)
	DNSError  = "dns-error" // the host name did not resolve
	Error     = "error"     // anything else: unreachable, reset, TLS, ...
)

// Result is what probing one target found.
type Result struct {
	Target    string `json:"target"`
	Outcome   string `json:"outcome"`
	Status    int    `json:"status,omitempty"` // HTTP status code, for URLs that answered
	Error     string `json:"error,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms"`
}

// Prober probes targets, each within Timeout.
type Prober struct {
	timeout time.Duration
	dialer  *net.Dialer
	client  *http.Client
}

// NewProber returns a Prober; resolver nil means the system's.
func NewProber(timeout time.Duration, resolver *net.Resolver) *Prober {
	dialer := &net.Dialer{Timeout: timeout, Resolver: resolver}
	transport := &http.Transport{
		DialContext:       dialer.DialContext,
		DisableKeepAlives: true,
		// Test clusters use their own CA; probe measures reachability, not trust.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // reachability probe only
	}
	return &Prober{
		timeout: timeout,
		dialer:  dialer,
		client: &http.Client{
			Transport:     transport,
			Timeout:       timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// ProbeAll probes every target at once and returns the results in the targets' order.
func (p *Prober) ProbeAll(ctx context.Context, targets []string) []Result {
	results := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, target := range targets {
		wg.Go(func() { results[i] = p.Probe(ctx, target) })
	}
	wg.Wait()
	return results
}

// Probe tries one target (see checkTarget for the forms).
func (p *Prober) Probe(ctx context.Context, target string) Result {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	res := Result{Target: target}
	var err error
	if addr, ok := strings.CutPrefix(target, "tcp:"); ok {
		err = p.dial(ctx, addr)
	} else {
		res.Status, err = p.get(ctx, target)
	}
	res.ElapsedMS = time.Since(start).Milliseconds()
	res.Outcome = classify(err)
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

func (p *Prober) dial(ctx context.Context, addr string) error {
	conn, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

func (p *Prober) get(ctx context.Context, target string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// classify names the outcome of a probe's error.
func classify(err error) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case err == nil:
		return Connected
	case errors.As(err, &dnsErr):
		return DNSError
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return Timeout
	default:
		return Error
	}
}

// checkTarget reports a target probe cannot try: tcp:HOST:PORT, http://... or https://....
func checkTarget(target string) error {
	if addr, ok := strings.CutPrefix(target, "tcp:"); ok {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("target %q: want tcp:HOST:PORT: %w", target, err)
		}
		return nil
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("target %q: want tcp:HOST:PORT or an http(s) URL", target)
	}
	return nil
}

// maxTerminationMessage is what kubelet keeps of a termination log; longer reports drop their
// error texts there (stdout keeps them).
const maxTerminationMessage = 4096

// report prints one JSON line per result to w and, when terminationLog names a writable file
// that exists, writes the JSON array of results there.
func report(results []Result, w io.Writer, terminationLog string) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if terminationLog == "" {
		return nil
	}
	b, err := json.Marshal(results)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if len(b) > maxTerminationMessage {
		short := make([]Result, len(results))
		for i, r := range results {
			r.Error = ""
			short[i] = r
		}
		if b, err = json.Marshal(short); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	f, err := os.OpenFile(terminationLog, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return nil // not in a pod, or not writable: stdout is the report
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("report: %s: %w", terminationLog, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: %s: %w", terminationLog, err)
	}
	return nil
}
