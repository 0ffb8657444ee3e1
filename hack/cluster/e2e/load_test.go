package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/cluster/deploy"
)

// load keeps a steady light load through the gateway: anonymous catalog reads (a gateway JWT
// minted per request or from the cache) and a branch manager's inventory reads (a session
// decision and the forwarded access token), each a fixed number of times per second.
type load struct {
	mu       sync.Mutex
	total    int
	failures map[string]int // "GET /products: 502" or "GET /products: <error>" -> count
	stop     context.CancelFunc
	done     sync.WaitGroup
}

// startLoad starts the load; it stops on its own after max (a bound, not the expected
// duration) or at (*load).finish.
func startLoad(t *testing.T, perSecond int, max time.Duration) *load {
	t.Helper()
	tg := target()
	manager := tg.Login(t, "manager@example.com")
	anon := tg.NewClient(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), max)
	l := &load{failures: map[string]int{}, stop: cancel}
	reqs := []struct {
		c    *http.Client
		path string
	}{
		{anon, "/products"},
		{manager, "/branches/1/products"},
	}
	for _, r := range reqs {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			tick := time.NewTicker(time.Second / time.Duration(perSecond))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				l.one(ctx, r.c, r.path)
			}
		}()
	}
	return l
}

func (l *load) one(ctx context.Context, c *http.Client, path string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, deploy.PublicURL+path, nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	outcome := ""
	if err != nil {
		outcome = err.Error()
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			outcome = fmt.Sprint(resp.StatusCode)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if outcome != "" {
		l.failures["GET "+path+": "+outcome]++
	}
}

// finish stops the load and reports the number of requests and every failure.
func (l *load) finish(t *testing.T, what string) {
	t.Helper()
	l.stop()
	l.done.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	var keys []string
	n := 0
	for k, v := range l.failures {
		keys = append(keys, k)
		n += v
	}
	sort.Strings(keys)
	t.Logf("%s: %d requests under load, %d not 200", what, l.total, n)
	for _, k := range keys {
		t.Errorf("  %d x %s", l.failures[k], k)
	}
	if l.total == 0 {
		t.Error("no request was sent")
	}
}

// authproxyValues returns the authproxy section of the values, creating it.
func authproxyValues(v map[string]any) map[string]any {
	ap, ok := v["authproxy"].(map[string]any)
	if !ok {
		ap = map[string]any{}
		v["authproxy"] = ap
	}
	return ap
}

// TestRollingRestartUnderLoad: `helm upgrade` changing a value restarts authproxy's pods one by
// one while requests keep coming; not one of them fails.
func TestRollingRestartUnderLoad(t *testing.T) {
	requireCluster(t)
	requireOwnCluster(t)
	requireOwnPods(t)
	l := startLoad(t, 10, 5*time.Minute)
	time.Sleep(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	before := map[string]bool{}
	for _, p := range authproxyPods(t) {
		before[p.Name] = true
	}
	start := time.Now()
	if err := dep.Upgrade(ctx, func(v map[string]any) {
		authproxyValues(v)["podAnnotations"] = map[string]any{"gatewarden.test/restarted-at": time.Now().Format(time.RFC3339Nano)}
	}); err != nil {
		l.finish(t, "rolling restart")
		t.Fatal(err)
	}
	t.Logf("rolling restart took %s", time.Since(start).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	l.finish(t, "rolling restart")
	for _, p := range authproxyPods(t) {
		if before[p.Name] {
			t.Errorf("pod %s survived the rolling restart: nothing was restarted", p.Name)
		}
	}
}

// publishedKids returns the key ids every authproxy replica publishes (its JWKS, asked directly).
func publishedKids(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range authproxyPods(t) {
		resp, err := replicaClient(p).Get("http://authproxy/.well-known/jwks.json")
		if err != nil {
			t.Fatalf("JWKS of %s: %v", p.Name, err)
		}
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		err = json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("JWKS of %s: %v", p.Name, err)
		}
		for _, k := range set.Keys {
			out[p.Name] = append(out[p.Name], k.Kid)
		}
	}
	return out
}

// TestKeyRotationUnderLoad rotates the gateway signing key the way the README describes, under
// load: publish the new key (second, not signing), let the services' key sets refresh, sign with
// it (first), then drop the old key once tokens signed with it have expired. No request may fail
// at the services.
func TestKeyRotationUnderLoad(t *testing.T) {
	requireCluster(t)
	requireOwnCluster(t)
	requireOwnPods(t)
	newKey, err := deploy.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	old := dep.SigningKeys[0]
	l := startLoad(t, 10, 10*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	setKeys := func(step string, keys ...string) {
		t.Helper()
		list := make([]any, len(keys))
		for i, k := range keys {
			list[i] = k
		}
		start := time.Now()
		if err := dep.Upgrade(ctx, func(v map[string]any) {
			authproxyValues(v)["signing"] = map[string]any{"keys": list}
		}); err != nil {
			l.finish(t, "key rotation")
			t.Fatalf("%s: %v", step, err)
		}
		dep.SigningKeys = keys
		t.Logf("%s: upgrade took %s", step, time.Since(start).Round(time.Millisecond))
	}
	// Every replica publishes n keys after each step.
	published := func(step string, n int) {
		t.Helper()
		kids := publishedKids(t)
		for pod, ks := range kids {
			if len(ks) != n {
				t.Errorf("%s: %s publishes %d keys %v, want %d", step, pod, len(ks), ks, n)
			}
		}
		t.Logf("%s: published key ids %v", step, kids)
	}
	published("before", 1)
	setKeys("1. publish the new key", old, newKey)
	published("1. publish the new key", 2)
	time.Sleep(deploy.ServicesJWKSRefresh + 2*time.Second)
	setKeys("2. sign with the new key", newKey, old)
	published("2. sign with the new key", 2)
	time.Sleep(deploy.TokenTTL + deploy.ServicesJWKSRefresh)
	setKeys("3. drop the old key", newKey)
	published("3. drop the old key", 1)
	time.Sleep(3 * time.Second)
	l.finish(t, "key rotation")
}
