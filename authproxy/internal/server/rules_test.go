package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// Rules documents of the reload tests.
const (
	rulesV1 = `rules:
  - {name: a, match: {path: "/a"}, access: public, upstream: up}
  - {name: gone, match: {path: "/gone"}, access: public, upstream: up}
  - {name: fwd, match: {path: "/fwd"}, access: authenticated, upstream: up}
`
	rulesV2 = `rules:
  - {name: a, match: {path: "/a"}, access: public, upstream: up}
  - {name: b, match: {path: "/b"}, access: public, upstream: up}
`
)

// configMapDir is a rules file mounted as the kubelet mounts a ConfigMap:
// dir/rules.yaml -> ..data/rules.yaml, ..data -> ..<version>; an update
// writes a new version directory and renames a new ..data link over the old
// one, so the file's own path never changes (inotify on it sees nothing).
type configMapDir struct {
	t       testing.TB
	dir     string
	version int
}

func newConfigMapDir(t testing.TB, content string) (*configMapDir, string) {
	t.Helper()
	c := &configMapDir{t: t, dir: t.TempDir()}
	c.update(content)
	path := filepath.Join(c.dir, "rules.yaml")
	if err := os.Symlink(filepath.Join("..data", "rules.yaml"), path); err != nil {
		t.Fatal(err)
	}
	return c, path
}

func (c *configMapDir) update(content string) {
	c.t.Helper()
	c.version++
	v := fmt.Sprintf("..v%d", c.version)
	if err := os.Mkdir(filepath.Join(c.dir, v), 0o700); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, v, "rules.yaml"), []byte(content), 0o600); err != nil {
		c.t.Fatal(err)
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(v, tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
}

// reloadEnv is a server (fake IdP, no Redis) whose rules file is path.
func reloadEnv(t *testing.T, path string, edit func(*config.Config)) (*env, *proxy) {
	t.Helper()
	e, ps := newEnv(t, envOpts{fakeIdP: true, cfg: func(c *config.Config) {
		rules, err := policy.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		c.RulesFile, c.Rules = path, rules
		if edit != nil {
			edit(c)
		}
	}})
	return e, ps[0]
}

// status is the decision's status for a public GET of uri.
func status(t *testing.T, p *proxy, uri string) int {
	t.Helper()
	resp, _ := fwd{uri: uri}.send(t, p, dialectForwarded)
	return resp.StatusCode
}

// reloadMetrics reads the reload gauge and counters from p's registry.
func reloadMetrics(t *testing.T, p *proxy) (failed, ok, errs float64) {
	t.Helper()
	fams, err := p.srv.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "authproxy_rules_reload_failed":
				failed = m.GetGauge().GetValue()
			case "authproxy_rules_reloads_total":
				switch m.GetLabel()[0].GetValue() {
				case "ok":
					ok = m.GetCounter().GetValue()
				case "error":
					errs = m.GetCounter().GetValue()
				}
			}
		}
	}
	return failed, ok, errs
}

// TestRulesReload: a changed rules file, swapped in as the kubelet updates
// a ConfigMap, is served within the watch interval; an invalid one keeps
// the rules in force, raises the gauge, counts once and logs every problem;
// fixing it recovers.
func TestRulesReload(t *testing.T) {
	t.Parallel()
	cm, path := newConfigMapDir(t, rulesV1)
	e, p := reloadEnv(t, path, nil)
	go p.srv.WatchRules(t.Context(), 10*time.Millisecond)

	if got := status(t, p, "/gone"); got != http.StatusOK {
		t.Fatalf("/gone before the change: %d", got)
	}
	if got := status(t, p, "/b"); got == http.StatusOK {
		t.Fatalf("/b before the change: %d, want refused (no rule)", got)
	}

	cm.update(rulesV2)
	testkit.WaitFor(t, "the new rule b served", func() bool { return status(t, p, "/b") == http.StatusOK })
	if got := status(t, p, "/gone"); got == http.StatusOK {
		t.Errorf("/gone after its rule was removed: %d, want refused", got)
	}
	if failed, ok, errs := reloadMetrics(t, p); failed != 0 || ok != 1 || errs != 0 {
		t.Errorf("after a valid change: failed %v ok %v error %v; want 0 1 0", failed, ok, errs)
	}
	if _, ok := (*p.srv.metrics.decided.Load())[decisionKey{"b", outcomeAllow}]; !ok {
		t.Error("the decision metrics of the new rule b were not pre-created")
	}
	wantLog := fmt.Sprintf(`"msg":"rules reloaded","file":%q,"rules":2,"hash":%q`, path, policy.HashOf([]byte(rulesV2)))
	if !strings.Contains(e.logs.String(), wantLog) {
		t.Errorf("logs lack %s:\n%s", wantLog, e.logs.String())
	}
	wantAudit := fmt.Sprintf(`"msg":"audit","log":"audit","event":"rules_reloaded","file":%q,"rules":2,"rules_hash":%q`, path, policy.HashOf([]byte(rulesV2)))
	if !strings.Contains(e.logs.String(), wantAudit) {
		t.Errorf("logs lack the audit line %s:\n%s", wantAudit, e.logs.String())
	}

	// Invalid: two problems; the rules in force stay.
	bad := rulesV2 + "  - {name: b, match: {path: /c}, access: nobody, upstream: up}\n"
	cm.update(bad)
	testkit.WaitFor(t, "the invalid file reported", func() bool { _, _, errs := reloadMetrics(t, p); return errs == 1 })
	if failed, ok, _ := reloadMetrics(t, p); failed != 1 || ok != 1 {
		t.Errorf("after an invalid change: failed %v ok %v; want 1 1", failed, ok)
	}
	if got := status(t, p, "/b"); got != http.StatusOK {
		t.Errorf("/b with an invalid file on disk: %d, want the rules in force kept", got)
	}
	for _, want := range []string{
		fmt.Sprintf(`"msg":"rules reload failed, keeping the rules in force","file":%q,"hash":%q,"in_force":%q`,
			path, policy.HashOf([]byte(bad)), policy.HashOf([]byte(rulesV2))),
		`rule 2 (\"b\"): duplicate name (also rule 1)`,
		`rule 2 (\"b\"): unknown access \"nobody\"`,
	} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, e.logs.String())
		}
	}
	// The same invalid content read again is not reported again.
	p.srv.ReloadRules()
	if _, _, errs := reloadMetrics(t, p); errs != 1 {
		t.Errorf("an unchanged invalid file counted again: error %v", errs)
	}

	cm.update(rulesV1)
	testkit.WaitFor(t, "the fixed file served", func() bool { return status(t, p, "/gone") == http.StatusOK })
	if failed, ok, errs := reloadMetrics(t, p); failed != 0 || ok != 2 || errs != 1 {
		t.Errorf("after the fix: failed %v ok %v error %v; want 0 2 1", failed, ok, errs)
	}
}

// TestRulesReloadRefused: every kind of bad file keeps the rules in force,
// sets the gauge, counts one error and logs its problems; the checks a file
// gets at start (config) apply to a reloaded one.
func TestRulesReloadRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		content  string // "" removes the file
		opaque   bool   // the provider's access tokens are opaque
		wantLogs []string
	}{
		{name: "not YAML", content: "rules: [\n", wantLogs: []string{"yaml"}},
		{name: "no rules", content: "rules: []\n", wantLogs: []string{"at least one rule is required"}},
		{name: "unknown key", content: strings.Replace(rulesV1, "access: public", "acess: public", 1), wantLogs: []string{`unknown key \"acess\"`}},
		{
			name: "forwards an opaque access token", opaque: true,
			content:  rulesV1 + "  - {name: tok, match: {path: /t}, access: authenticated, upstream: up, forward: access-token}\n",
			wantLogs: []string{`rule \"tok\" forwards the access token`},
		},
		{name: "file removed", wantLogs: []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(path, []byte(rulesV1), 0o600); err != nil {
				t.Fatal(err)
			}
			e, p := reloadEnv(t, path, func(c *config.Config) {
				if tt.opaque {
					c.AccessTokenFormat = config.AccessTokenOpaque
					// rulesV1 forwards no access token: valid at start.
				}
			})
			var err error
			if tt.content == "" {
				err = os.Remove(path)
			} else {
				err = os.WriteFile(path, []byte(tt.content), 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			p.srv.ReloadRules()
			if failed, ok, errs := reloadMetrics(t, p); failed != 1 || ok != 0 || errs != 1 {
				t.Errorf("failed %v ok %v error %v; want 1 0 1", failed, ok, errs)
			}
			if got := status(t, p, "/gone"); got != http.StatusOK {
				t.Errorf("/gone: %d, want the rules in force kept", got)
			}
			for _, want := range append(tt.wantLogs, `"msg":"rules reload failed, keeping the rules in force"`, `"in_force":"`+policy.HashOf([]byte(rulesV1))+`"`) {
				if !strings.Contains(e.logs.String(), want) {
					t.Errorf("logs lack %s:\n%s", want, e.logs.String())
				}
			}
		})
	}
}

// TestRulesReloadConcurrent: decisions running while the rules flip between
// two sets each see one set whole: /p always matches (rule alpha or rule
// beta), and the token's audience is that of the rule the decision counted.
// Run with -race.
func TestRulesReloadConcurrent(t *testing.T) {
	t.Parallel()
	const alpha = "rules:\n  - {name: alpha, match: {path: /p}, access: public, upstream: alpha}\n"
	const beta = "rules:\n  - {name: beta, match: {path: /p}, access: public, upstream: beta}\n  - {name: other, match: {path: /o}, access: deny}\n"
	cm, path := newConfigMapDir(t, alpha)
	_, p := reloadEnv(t, path, nil)

	stop := make(chan struct{})
	var flips sync.WaitGroup
	flips.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cm.update([]string{beta, alpha}[i%2])
			p.srv.ReloadRules()
		}
	})
	seen := map[string]int{}
	var mu sync.Mutex
	var deciders sync.WaitGroup
	for range 4 {
		deciders.Go(func() {
			for range 50 {
				resp, body := fwd{uri: "/p"}.send(t, p, dialectForwarded)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("/p during reloads: %d %s", resp.StatusCode, body)
					return
				}
				aud := audience(t, bearerOf(t, resp))
				mu.Lock()
				seen[aud]++
				mu.Unlock()
			}
		})
	}
	deciders.Wait()
	close(stop)
	flips.Wait()
	for aud := range seen {
		if aud != "alpha" && aud != "beta" {
			t.Errorf("token audience %q", aud)
		}
	}
	// A decision is counted just after its answer is written.
	testkit.WaitFor(t, fmt.Sprintf("decisions counted as the tokens minted (alpha %d, beta %d)", seen["alpha"], seen["beta"]), func() bool {
		return int(decisionCount(t, p.srv.metrics, "alpha", outcomeAllow)) == seen["alpha"] &&
			int(decisionCount(t, p.srv.metrics, "beta", outcomeAllow)) == seen["beta"]
	})
}

// audience is the aud claim of a JWT (unverified: the rule chose it).
func audience(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud any `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	switch a := claims.Aud.(type) {
	case string:
		return a
	case []any:
		if len(a) == 1 {
			s, _ := a[0].(string)
			return s
		}
	}
	t.Fatalf("aud %v", claims.Aud)
	return ""
}
