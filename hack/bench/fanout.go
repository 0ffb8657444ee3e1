package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// fanoutOptions is the -fanout run: replicas authproxy processes on one
// redis-server.
type fanoutOptions struct {
	replicas int
	trials   int // logouts timed until every replica drops the session
	burst    int // logouts whose invalidation CPU the other replicas are charged
}

// fanoutResult is what the fan-out run measured.
type fanoutResult struct {
	replicas      int
	allDropped    []time.Duration // per trial: until the last replica answered 401
	perReplica    []time.Duration // every replica's drop time, every trial
	sweep         time.Duration   // mean time of one poll (the resolution)
	burst         int
	burstElapsed  time.Duration
	cpuPerInval   time.Duration // per invalidation per receiving replica, idle CPU subtracted
	idleCPU       time.Duration // receiving replicas' CPU per second while idle
	redisCmdsPerL float64       // Redis commands per logout
	redisMix      string        // the same by command name
	other         float64       // CPUs of other processes during the burst
}

// runFanout starts o.replicas authproxy processes with a session cache
// long enough (1 min) that only an invalidation can drop an entry, logs
// in, seeds sessions, and for each trial warms every replica's cache with
// one session, logs it out on replica 0 and sweeps the replicas until each
// answers 401. Then it logs o.burst sessions out back to back and charges
// the receiving replicas' CPU (less their idle CPU) to the invalidations.
func runFanout(ctx context.Context, o fanoutOptions, authproxyBin, redisBin string, stderr io.Writer) (fanoutResult, error) {
	res := fanoutResult{replicas: o.replicas, burst: o.burst}
	st := &stack{cookieName: cookieName}
	defer st.close()
	dir, err := os.MkdirTemp("", "gw-fanout-")
	if err != nil {
		return res, err
	}
	st.closers = append(st.closers, func() { _ = os.RemoveAll(dir) })
	if authproxyBin == "" {
		if authproxyBin, err = buildAuthproxy(ctx, dir); err != nil {
			return res, err
		}
	}
	seedBin, err := buildSeeder(ctx, dir)
	if err != nil {
		return res, err
	}
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(benchRules), 0o600); err != nil {
		return res, err
	}
	if st.redis, err = testkit.NewRedis(testkit.RedisOptions{Bin: redisBin}); err != nil {
		return res, err
	}
	st.closers = append(st.closers, func() { _ = st.redis.Close() })
	if err := st.redis.Start(ctx); err != nil {
		return res, err
	}
	st.rdb = newRedisClient(st.redis.Addr())
	st.closers = append(st.closers, func() { _ = st.rdb.Close() })

	idpLn, idpURL, err := listen()
	if err != nil {
		return res, err
	}
	ports := make([]int, o.replicas)
	urls := make([]string, o.replicas)
	for i := range ports {
		if ports[i], err = testkit.PickPort(); err != nil {
			return res, err
		}
		urls[i] = "http://127.0.0.1:" + strconv.Itoa(ports[i])
	}
	idp, err := devidp.New(devidp.Config{Issuer: idpURL, RedirectURIs: []string{urls[0] + "/oauth2/callback"}, LogoutURIs: []string{urls[0] + "/"}})
	if err != nil {
		return res, err
	}
	st.idp = serve(idpLn, idpURL, idp.Handler())
	st.closers = append(st.closers, st.idp.close)

	spec := proxySpec{bin: authproxyBin, cookieSecret: rand.Text() + rand.Text(), idpURL: idpURL, redisAddr: st.redis.Addr(), rulesFile: rulesFile}
	replicas := make([]*child, o.replicas)
	for i := range replicas {
		if replicas[i], err = spec.start(ctx, urls[i], ports[i], "--session-cache-ttl", "1m", "--log-level", "warn"); err != nil {
			return res, fmt.Errorf("replica %d: %w", i, err)
		}
		st.closers = append(st.closers, replicas[i].stop)
	}
	fmt.Fprintf(stderr, "bench: fan-out: %d replicas ready; logging in, seeding %d sessions\n", o.replicas, o.trials+o.burst)
	if st.cookie, err = login(ctx, urls[0], cookieName, "admin@example.com"); err != nil {
		return res, fmt.Errorf("login: %w", err)
	}
	if err := st.seed(ctx, seedBin, dir, o.trials+o.burst); err != nil {
		return res, err
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()
	authz := func(url, cookie string) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/authz", nil)
		for k, v := range forwardHeaders("/admin/users") {
			req.Header.Set(k, v)
		}
		req.Header.Set("Cookie", cookieName+"="+cookie)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	logout := func(cookie string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, urls[0]+"/oauth2/logout", nil)
		req.Header.Set("Origin", urls[0])
		req.Header.Set("Cookie", cookieName+"="+cookie)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 400 {
			return fmt.Errorf("logout: status %d", resp.StatusCode)
		}
		return nil
	}

	var (
		mu       sync.Mutex
		polls    int
		pollTime time.Duration
	)
	for trial, cookie := range st.cookies[:o.trials] {
		for i, u := range urls {
			if code, err := authz(u, cookie); err != nil || code != http.StatusOK {
				return res, fmt.Errorf("trial %d: warming replica %d: %d %v", trial, i, code, err)
			}
		}
		t0 := time.Now()
		if err := logout(cookie); err != nil {
			return res, fmt.Errorf("trial %d: %w", trial, err)
		}
		// One poller per replica, each sending its next request when the
		// last is answered: a drop is seen within one request's time.
		drops := make([]time.Duration, o.replicas)
		errs := make([]error, o.replicas)
		var wg sync.WaitGroup
		for i, u := range urls {
			wg.Go(func() {
				for n := 0; ; n++ {
					if time.Since(t0) > 5*time.Second {
						errs[i] = fmt.Errorf("replica %d still serves the logged-out session after 5 s", i)
						return
					}
					s0 := time.Now()
					code, err := authz(u, cookie)
					mu.Lock()
					polls++
					pollTime += time.Since(s0)
					mu.Unlock()
					switch {
					case err != nil:
						errs[i] = err
						return
					case code == http.StatusUnauthorized:
						drops[i] = time.Since(t0)
						return
					case code != http.StatusOK:
						errs[i] = fmt.Errorf("replica %d answered %d", i, code)
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return res, fmt.Errorf("trial %d: %w", trial, err)
		}
		res.perReplica = append(res.perReplica, drops...)
		res.allDropped = append(res.allDropped, time.Since(t0))
	}
	res.sweep = pollTime / time.Duration(max(polls, 1))

	receivers := replicas[1:]
	cpu := func() time.Duration {
		var d time.Duration
		for _, r := range receivers {
			d += r.cpuTime()
		}
		return d
	}
	const idleWindow = 3 * time.Second
	c0 := cpu()
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(idleWindow):
	}
	idle := cpu() - c0
	res.idleCPU = idle * time.Second / idleWindow
	cmds0, err := redisCommands(ctx, st.rdb)
	if err != nil {
		return res, err
	}
	mine := append([]*child{}, replicas...)
	all := func() time.Duration {
		var d time.Duration
		for _, r := range mine {
			d += r.cpuTime()
		}
		return d + processCPU() + procCPU(st.redis.PID())
	}
	c0, a0, m0, t0 := cpu(), all(), machineCPU(), time.Now()
	for _, cookie := range st.cookies[o.trials:] {
		if err := logout(cookie); err != nil {
			return res, fmt.Errorf("burst: %w", err)
		}
	}
	res.burstElapsed = time.Since(t0)
	spent := cpu() - c0 - time.Duration(float64(idle)*float64(res.burstElapsed)/float64(idleWindow))
	res.other = max(float64(machineCPU()-m0-(all()-a0))/float64(res.burstElapsed), 0)
	res.cpuPerInval = max(spent, 0) / time.Duration(o.burst*len(receivers))
	cmds1, err := redisCommands(ctx, st.rdb)
	if err != nil {
		return res, err
	}
	res.redisCmdsPerL, res.redisMix = commandsDelta(cmds0, cmds1, int64(o.burst))
	return res, nil
}

func fanoutReport(w io.Writer, r fanoutResult, load string, busy float64) {
	pct := func(ds []time.Duration, p int) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)*p/100, len(s)-1)]
	}
	fmt.Fprintf(w, "## Invalidation fan-out (hack/bench -fanout %d)\n\n", r.replicas)
	fmt.Fprintf(w, "%d authproxy processes on one redis-server (session cache 1 min, so only an invalidation drops an entry), load average %s at start.\n", r.replicas, load)
	verdict := "**clean**"
	if r.other > busy {
		verdict = fmt.Sprintf("**NOT CLEAN** (other processes used %.2f CPUs during the burst; limit %.2f)", r.other, busy)
	}
	fmt.Fprintf(w, "Run: %s.\n\n", verdict)
	fmt.Fprintln(w, "| measure | value |")
	fmt.Fprintln(w, "| --- | ---: |")
	fmt.Fprintf(w, "| logouts timed | %d |\n", len(r.allDropped))
	fmt.Fprintf(w, "| every replica dropped the session, p50 / max over logouts | %s / %s |\n", fmtDur(pct(r.allDropped, 50)), fmtDur(pct(r.allDropped, 100)))
	fmt.Fprintf(w, "| one replica dropped it, p50 / p99 | %s / %s |\n", fmtDur(pct(r.perReplica, 50)), fmtDur(pct(r.perReplica, 99)))
	fmt.Fprintf(w, "| one poll, mean (the resolution; %d pollers in parallel) | %s |\n", r.replicas, fmtDur(r.sweep))
	fmt.Fprintf(w, "| burst: logouts back to back | %d in %s |\n", r.burst, r.burstElapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "| CPU per invalidation per receiving replica (idle CPU subtracted) | %s |\n", fmtDur(r.cpuPerInval))
	fmt.Fprintf(w, "| receiving replicas' idle CPU, all %d together | %s/s |\n", r.replicas-1, fmtDur(r.idleCPU))
	fmt.Fprintf(w, "| Redis commands per logout | %.1f (%s) |\n", r.redisCmdsPerL, r.redisMix)
	fmt.Fprintln(w, "\nDrop times include up to one poll: a replica is found to have dropped the session by the"+
		" first request answered after it did. CPU from /proc in 10 ms ticks.")
}

var errNoFanout = errors.New("-fanout needs at least 2 replicas")
