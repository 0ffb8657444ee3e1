package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewarden/gatewarden/hack/stack"
)

// outcome classifies one answer against what was due at that moment.
type outcome int

const (
	outcomeOK         outcome = iota // the due answer (allow: 2xx; deny: 401 or 403)
	outcomeWrongAllow                // 2xx where 401/403 was due: a security failure
	outcomeWrongDeny                 // 401/403 where 2xx was due, the session still existing
	outcomeLost                      // 401 for a session that the fault really destroyed (Redis restarted empty)
	outcome5xx                       // 5xx from the gateway (fail closed: never an allow)
	outcomeError                     // no answer (connection refused or reset, timeout)
	outcomeOther                     // another status (e.g. 302, 404): counted, never an allow
)

// result is one request's record.
type result struct {
	start   time.Time
	done    time.Time
	latency time.Duration
	outcome outcome
	client  string
	path    string
	status  int
}

// probe is one request a client repeats, with the answer due.
type probe struct {
	path  string
	allow bool // 2xx due; otherwise 401 or 403 due
}

// client is a kind of user of the load.
type client struct {
	name   string
	probes []probe
	// user logs in through the gateway (a session cookie) when set and bearer is false.
	user *stack.User
	// bearer: the user's own IdP access token in Authorization, no cookie.
	bearer bool
	// loggedOut: the session is logged out before the load starts; its cookie stays.
	loggedOut bool
}

// clients are the load's kinds of users (the dev IdP's users; rules.example.yaml's rules:
// /products/** public, /branches/*/products for admin and branch-manager, inventory letting
// a branch manager see only their own branches).
func clients() []client {
	users := map[string]*stack.User{}
	for _, u := range stack.DevUsers() {
		users[u.Email] = &u
	}
	return []client{
		{name: "anonymous", probes: []probe{{"/products", true}, {"/branches/1/products", false}}},
		{name: "customer", user: users["customer@example.com"], probes: []probe{{"/products", true}, {"/branches/1/products", false}}},
		{name: "branch-manager", user: users["manager@example.com"], probes: []probe{{"/branches/1/products", true}, {"/branches/2/products", false}}},
		{name: "admin", user: users["admin@example.com"], probes: []probe{{"/branches/2/products", true}, {"/products", true}}},
		{name: "bearer-admin", user: users["admin@example.com"], bearer: true, probes: []probe{{"/branches/2/products", true}}},
		{name: "bearer-customer", user: users["customer@example.com"], bearer: true, probes: []probe{{"/branches/1/products", false}}},
		{name: "logged-out", user: users["admin@example.com"], loggedOut: true, probes: []probe{{"/branches/2/products", false}, {"/products", true}}},
	}
}

// recorder collects results from every worker.
type recorder struct {
	mu      sync.Mutex
	results []result
}

func (r *recorder) add(res result) {
	r.mu.Lock()
	r.results = append(r.results, res)
	r.mu.Unlock()
}

// between returns the results completed in [from, to).
func (r *recorder) between(from, to time.Time) []result {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []result
	for _, res := range r.results {
		if !res.done.Before(from) && res.done.Before(to) {
			out = append(out, res)
		}
	}
	return out
}

// sessionEpoch tells workers when the sessions they hold were destroyed by a fault (a Redis
// restarted empty): a 401 for a session created before that moment is due, not wrong.
type sessionEpoch struct{ wiped atomic.Int64 } // unix nanoseconds of the last wipe

func (e *sessionEpoch) wipe()                       { e.wiped.Store(time.Now().UnixNano()) }
func (e *sessionEpoch) wipedSince(t time.Time) bool { return e.wiped.Load() >= t.UnixNano() }

// worker runs one client's probes round robin at a steady pace until ctx ends or max requests.
type worker struct {
	c       client
	s       *stack.Stack
	rec     *recorder
	epoch   *sessionEpoch
	pace    time.Duration
	max     int
	tokenTT time.Duration // refetch a bearer token after this age

	http      *http.Client
	token     string
	tokenAt   time.Time
	sessionAt time.Time // when the current session was created
}

// setup logs in (and out, for loggedOut) or fetches the bearer token.
func (w *worker) setup(ctx context.Context) error {
	w.http = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	switch {
	case w.c.user == nil:
		return nil
	case w.c.bearer:
		return w.refreshToken(ctx)
	default:
		return w.login(ctx)
	}
}

func (w *worker) login(ctx context.Context) error {
	c, err := w.s.Login(ctx, *w.c.user)
	if err != nil {
		return err
	}
	if w.c.loggedOut {
		// Keep the cookie from before the logout (the logout answer clears it from the jar):
		// replaying it must not open the session again.
		gw, err := url.Parse(w.s.GatewayURL)
		if err != nil {
			return fmt.Errorf("faults: %w", err)
		}
		stale := c.Jar.Cookies(gw)
		if err := w.s.Logout(ctx, c); err != nil {
			return err
		}
		jar, err := cookiejar.New(nil)
		if err != nil {
			return fmt.Errorf("faults: %w", err)
		}
		jar.SetCookies(gw, stale)
		c = &http.Client{Jar: jar, CheckRedirect: c.CheckRedirect}
	}
	c.Timeout = 5 * time.Second
	w.http, w.sessionAt = c, time.Now()
	return nil
}

func (w *worker) refreshToken(ctx context.Context) error {
	tok, err := w.s.AccessToken(ctx, *w.c.user)
	if err != nil {
		return err
	}
	w.token, w.tokenAt = tok, time.Now()
	return nil
}

// run sends requests until ctx ends.
func (w *worker) run(ctx context.Context) {
	t := time.NewTicker(w.pace)
	defer t.Stop()
	for i := 0; i < w.max; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w.c.bearer && time.Since(w.tokenAt) > w.tokenTT {
			_ = w.refreshToken(ctx) // the IdP may be down: keep the old token, try again later
		}
		p := w.c.probes[i%len(w.c.probes)]
		res := w.once(ctx, p)
		if ctx.Err() != nil && res.outcome == outcomeError {
			return // the run ended mid-request: not an answer
		}
		w.rec.add(res)
		gone := res.outcome == outcomeLost || res.outcome == outcomeWrongDeny && res.status == http.StatusUnauthorized
		if gone && w.c.user != nil && !w.c.bearer {
			// The session is gone: log in again (as a user would) once the system lets us.
			if err := w.login(ctx); err != nil {
				continue
			}
		}
	}
}

func (w *worker) once(ctx context.Context, p probe) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.s.GatewayURL+p.path, nil)
	if err != nil {
		return result{start: time.Now(), done: time.Now(), outcome: outcomeError, client: w.c.name, path: p.path}
	}
	req.Header.Set("Accept", "application/json")
	if w.c.bearer {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	start := time.Now()
	resp, err := w.http.Do(req)
	res := result{start: start, client: w.c.name, path: p.path}
	if err != nil {
		res.done, res.latency, res.outcome = time.Now(), time.Since(start), outcomeError
		return res
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	res.done, res.latency, res.status = time.Now(), time.Since(start), resp.StatusCode
	res.outcome = w.judge(p, resp.StatusCode)
	return res
}

// judge compares a status with the answer due.
func (w *worker) judge(p probe, status int) outcome {
	allowed := status >= 200 && status < 300
	denied := status == http.StatusUnauthorized || status == http.StatusForbidden
	switch {
	case allowed && !p.allow:
		return outcomeWrongAllow
	case allowed || denied && !p.allow:
		return outcomeOK
	case status >= 500:
		return outcome5xx
	case denied && status == http.StatusUnauthorized && w.c.user != nil && !w.c.bearer && w.epoch.wipedSince(w.sessionAt):
		return outcomeLost
	case denied:
		return outcomeWrongDeny
	default:
		return outcomeOther
	}
}

// errSetup wraps a worker that could not log in before the load.
var errSetup = errors.New("faults: set up clients")

func setupWorkers(ctx context.Context, ws []*worker) error {
	for _, w := range ws {
		if err := w.setup(ctx); err != nil {
			return fmt.Errorf("%w: %s: %w", errSetup, w.c.name, err)
		}
	}
	return nil
}
