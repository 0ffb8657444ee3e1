package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/gatewarden/gatewarden/hack/stack"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

// The files the chart ships (templates/metrics-prometheusrule.yaml and
// metrics-dashboard-configmap.yaml read them as they are).
const (
	rulesFile     = "../../charts/gatewarden/files/prometheus-rules.yaml"
	dashboardFile = "../../charts/gatewarden/files/grafana-dashboard.json"
)

// dashboardVars stands in for the Grafana variables the dashboard's queries use: the rate
// window Grafana computes, and the namespace picker at "All" (its allValue).
var dashboardVars = strings.NewReplacer("$__rate_interval", "1m", "$namespace", ".*")

// jobs are the scrape jobs, named as the chart's ServiceMonitor names them (jobLabel: the
// app.kubernetes.io/component label).
var jobs = []string{"authproxy", "catalog", "inventory"}

// binaries (authproxy, catalog, inventory, dev IdP) and prometheus are set by TestMain.
var (
	binaries   stack.Binaries
	prometheus string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gatewarden-promtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "promtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "promtest:", err)
		return 1
	}
	root, err := gobuild.RepoRoot(wd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promtest:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if prometheus, err = prometheusBinary(ctx, root); err != nil {
		fmt.Fprintln(os.Stderr, "promtest:", err)
		return 1
	}
	if binaries, err = stack.Build(ctx, root, filepath.Join(dir, "bin")); err != nil {
		fmt.Fprintln(os.Stderr, "promtest:", err)
		return 1
	}
	return m.Run()
}

// prometheusBinary is $PROMTEST_PROMETHEUS, or else the cached build of hack/kubebin/build.sh
// prom (a cache hit once hack/test.sh or CI has built it; a cold build takes minutes).
func prometheusBinary(ctx context.Context, root string) (string, error) {
	if p := os.Getenv("PROMTEST_PROMETHEUS"); p != "" {
		return p, nil
	}
	return gobuild.Cached(ctx, root, "prom", "prometheus", os.Stderr)
}

// TestChartRulesAndDashboard is the package's test (see the package comment).
func TestChartRulesAndDashboard(t *testing.T) {
	s := startStack(t)
	drive(t, s)
	prom := startPrometheus(t, s)

	testkit.WaitUntil(t, "every target up", time.Minute, func(ctx context.Context) error {
		return targetsUp(ctx, prom)
	})
	rules := readRuleFile(t)
	testkit.WaitUntil(t, "every rule evaluated", time.Minute, func(ctx context.Context) error {
		return rulesHealthy(ctx, prom, rules)
	})
	// The series appear with the first scrape of each target; the last of the drive's
	// decisions were counted before the targets came up.
	names := scrapedNames(t, prom)

	queries := ruleQueries(rules)
	dash := dashboardQueries(t)
	if len(dash) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	queries = append(queries, dash...)
	p := parser.NewParser(parser.Options{})
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			expr, err := p.ParseExpr(q.expr)
			if err != nil {
				t.Fatalf("parse %q: %v", q.expr, err)
			}
			used := metricNames(expr)
			if len(used) == 0 {
				t.Errorf("%q selects no metric by name", q.expr)
			}
			for _, n := range used {
				if !slices.Contains(names, n) {
					t.Errorf("%q uses %s, which no component exposes", q.expr, n)
				}
			}
			if err := evaluate(t.Context(), prom, q.expr); err != nil {
				t.Errorf("evaluate %q: %v", q.expr, err)
			}
		})
	}
}

// startStack runs the local system (redis-server when on PATH, the embedded Caddy in front);
// the parts' logs go to the test's temporary folder and are shown when it fails.
func startStack(t *testing.T) *stack.Stack {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "stack.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Binaries: binaries, Output: logFile})
	if err != nil {
		logFile.Close()
		t.Fatalf("start stack: %v\n%s", err, tailOf(logPath))
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
		logFile.Close()
		if t.Failed() {
			t.Logf("stack logs (tail):\n%s", tailOf(logPath))
		}
	})
	return s
}

// drive logs a user in, makes allowed, refused and unauthenticated decisions through the
// gateway (every service answers at least once) and logs out.
func drive(t *testing.T, s *stack.Stack) {
	t.Helper()
	users := stack.DevUsers()
	i := slices.IndexFunc(users, func(u stack.User) bool { return u.Email == "manager@example.com" })
	if i < 0 {
		t.Fatal("no dev user manager@example.com")
	}
	c, err := s.Login(t.Context(), users[i])
	if err != nil {
		t.Fatal(err)
	}
	anon := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	for _, get := range []struct {
		client *http.Client
		path   string
	}{
		{c, "/products"}, {c, "/branches"}, {c, "/admin/nothing"}, {c, "/no-such-route"},
		{anon, "/products"}, {anon, "/branches"},
	} {
		resp, err := get.client.Get(s.GatewayURL + get.path)
		if err != nil {
			t.Fatalf("GET %s: %v", get.path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Logf("GET %s: %d", get.path, resp.StatusCode)
	}
	if err := s.Logout(t.Context(), c); err != nil {
		t.Fatal(err)
	}
}

// startPrometheus runs Prometheus scraping every component each second, with the chart's rule
// file evaluated each second, and returns its URL.
func startPrometheus(t *testing.T, s *stack.Stack) string {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{"authproxy": s.AuthProxyURL, "catalog": s.CatalogURL, "inventory": s.InventoryURL}
	var b strings.Builder
	fmt.Fprintf(&b, "global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\nscrape_configs:\n", rules)
	for _, job := range jobs {
		u, err := url.Parse(targets[job])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  - job_name: %s\n    static_configs: [{targets: [%q]}]\n", job, u.Host)
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prometheus, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.format=json")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			t.Logf("prometheus log (tail):\n%s", tailOf(logPath))
		}
	})
	prom := "http://" + addr
	testkit.WaitUntil(t, "prometheus ready", time.Minute, func(ctx context.Context) error {
		select {
		case <-done:
			return testkit.Abort(errors.New("prometheus exited:\n" + tailOf(logPath)))
		default:
		}
		return testkit.HTTPOK(ctx, nil, prom+"/-/ready")
	})
	return prom
}

// api GETs a Prometheus API path and decodes its data into out; an answer with status error
// is returned as an error naming its errorType and error.
func api(ctx context.Context, prom, path string, q url.Values, out any) error {
	u := prom + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Warnings  []string        `json:"warnings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: %d: %w", path, resp.StatusCode, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s: %s", path, env.ErrorType, env.Error)
	}
	if len(env.Warnings) > 0 {
		return fmt.Errorf("%s: warnings: %v", path, env.Warnings)
	}
	return json.Unmarshal(env.Data, out)
}

// targetsUp is nil once each job has one target and every target's last scrape succeeded.
func targetsUp(ctx context.Context, prom string) error {
	var data struct {
		ActiveTargets []struct {
			Labels    map[string]string `json:"labels"`
			Health    string            `json:"health"`
			LastError string            `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := api(ctx, prom, "/api/v1/targets", nil, &data); err != nil {
		return err
	}
	var up []string
	for _, tg := range data.ActiveTargets {
		if tg.Health != "up" {
			return fmt.Errorf("target %s is %s: %s", tg.Labels["job"], tg.Health, tg.LastError)
		}
		up = append(up, tg.Labels["job"])
	}
	slices.Sort(up)
	if !slices.Equal(up, jobs) {
		return fmt.Errorf("targets up: %v, want %v", up, jobs)
	}
	return nil
}

// ruleFile is the part of the rule file the test reads.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert  string `json:"alert"`
			Record string `json:"record"`
			Expr   string `json:"expr"`
		} `json:"rules"`
	} `json:"groups"`
}

func readRuleFile(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Groups) == 0 {
		t.Fatal("the rule file has no groups")
	}
	return f
}

// loadedGroup is a rule group as /api/v1/rules shows it.
type loadedGroup struct {
	Name  string `json:"name"`
	Rules []struct {
		Name           string    `json:"name"`
		Health         string    `json:"health"`
		LastError      string    `json:"lastError"`
		LastEvaluation time.Time `json:"lastEvaluation"`
	} `json:"rules"`
}

// rulesHealthy is nil once Prometheus has loaded every group of the file with every rule, and
// every rule has been evaluated with health ok; a rule with health err aborts the wait.
func rulesHealthy(ctx context.Context, prom string, want ruleFile) error {
	var data struct {
		Groups []loadedGroup `json:"groups"`
	}
	if err := api(ctx, prom, "/api/v1/rules", nil, &data); err != nil {
		return err
	}
	for _, wg := range want.Groups {
		i := slices.IndexFunc(data.Groups, func(g loadedGroup) bool { return g.Name == wg.Name })
		if i < 0 {
			return fmt.Errorf("group %s not loaded", wg.Name)
		}
		g := data.Groups[i]
		if len(g.Rules) != len(wg.Rules) {
			return fmt.Errorf("group %s: %d rules loaded, the file has %d", wg.Name, len(g.Rules), len(wg.Rules))
		}
		for _, r := range g.Rules {
			if r.Health == "err" {
				return testkit.Abort(fmt.Errorf("rule %s/%s: %s", wg.Name, r.Name, r.LastError))
			}
			if r.Health != "ok" || r.LastEvaluation.IsZero() {
				return fmt.Errorf("rule %s/%s not evaluated yet (health %q)", wg.Name, r.Name, r.Health)
			}
		}
	}
	return nil
}

// query is one PromQL expression to check, named for the subtest.
type query struct{ name, expr string }

func ruleQueries(f ruleFile) []query {
	var out []query
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, query{name: "rule/" + r.Alert + r.Record, expr: r.Expr})
		}
	}
	return out
}

// dashboardQueries are the dashboard's panel queries with Grafana's variables substituted.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var out []query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, query{name: "dashboard/" + p.Title + "/" + tg.RefID, expr: dashboardVars.Replace(tg.Expr)})
		}
	}
	return out
}

// metricNames are the metric names expr selects, from the parsed expression (a selector's
// name, or its __name__ equality matcher).
func metricNames(expr parser.Expr) []string {
	var names []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	return names
}

// scrapedNames are the metric names of the series scraped from the components.
func scrapedNames(t *testing.T, prom string) []string {
	t.Helper()
	var names []string
	q := url.Values{"match[]": {`{job=~"` + strings.Join(jobs, "|") + `"}`}}
	if err := api(t.Context(), prom, "/api/v1/label/__name__/values", q, &names); err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no series scraped")
	}
	return names
}

// evaluate runs expr as an instant query.
func evaluate(ctx context.Context, prom, expr string) error {
	var data struct {
		ResultType string `json:"resultType"`
	}
	if err := api(ctx, prom, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return err
	}
	if data.ResultType == "" {
		return errors.New("no result type")
	}
	return nil
}

// tailOf is the last 4 KiB of a log file.
func tailOf(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
