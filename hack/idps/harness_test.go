package idps

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/hack/testkit/gobuild"
)

// bin is where TestMain builds every binary, in one go build.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		return m.Run() // the tests skip themselves
	}
	dir, err := os.MkdirTemp("", "idps-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if _, err := exec.LookPath("gcc"); err != nil {
		if _, err := exec.LookPath("cc"); err != nil {
			fmt.Fprintln(os.Stderr, "idps: no C compiler: dex links SQLite through cgo (apt-get install gcc libc6-dev)")
			return 1
		}
	}
	start := time.Now()
	// One build for the four binaries: the providers, authproxy and the dev
	// IdP. dex needs cgo (its SQLite storage is always linked in).
	if err := gobuild.Build(context.Background(), gobuild.Options{Dir: ".", Out: dir},
		"./cmd/zitadel-op",
		"github.com/dexidp/dex/cmd/dex",
		"github.com/gatewarden/gatewarden/authproxy",
		"github.com/gatewarden/gatewarden/hack/devidp/cmd/devidp"); err != nil {
		fmt.Fprintln(os.Stderr, "idps:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "idps: built providers, authproxy and devidp in %s\n", time.Since(start).Round(time.Second))
	bin = dir
	return m.Run()
}

func needBinaries(t *testing.T) {
	t.Helper()
	if bin == "" {
		t.Skip("binaries not built (-short)")
	}
	testkit.NeedRedis(t)
}

// process is a child started for one test; stopped at cleanup.
type process struct {
	name string
	cmd  *exec.Cmd
	logs *testkit.LogBuffer
	done chan struct{}
}

func start(t *testing.T, name string, args []string, env ...string) *process {
	t.Helper()
	p := &process{name: name, logs: &testkit.LogBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, tail(p.logs.String(), 60))
		}
	})
	return p
}

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// waitHTTP polls u until it answers 200, failing at once if p exits.
func waitHTTP(t *testing.T, p *process, u string) {
	t.Helper()
	testkit.WaitUntil(t, p.name+" to answer 200 at "+u, 30*time.Second, func(ctx context.Context) error {
		select {
		case <-p.done:
			return testkit.Abort(fmt.Errorf("%s exited:\n%s", p.name, tail(p.logs.String(), 40)))
		default:
		}
		return testkit.HTTPOK(ctx, nil, u)
	})
}

// gateway is one authproxy in front of a provider.
type gateway struct {
	url  string
	proc *process
}

// gatewayOpts configures authproxy for a provider.
type gatewayOpts struct {
	providerURL, clientID, clientSecret string
	port                                int    // 0 = a free port (the provider may need it in advance)
	rules                               string // rules file content; "" = rulesYAML
	extra                               []string
}

func startGateway(t *testing.T, o gatewayOpts) *gateway {
	t.Helper()
	redisAddr := testkit.StartRedis(t).Addr()
	port := o.port
	if port == 0 {
		port = testkit.FreePort(t)
	}
	u := "http://127.0.0.1:" + strconv.Itoa(port)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	content := o.rules
	if content == "" {
		content = rulesYAML
	}
	if err := os.WriteFile(rules, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{filepath.Join(bin, "authproxy"),
		"--listen", "127.0.0.1:" + strconv.Itoa(port), "--public-url", u,
		"--fusionauth-url", o.providerURL, "--client-id", o.clientID,
		"--redis-addrs", redisAddr, "--dev-mode", "--rules-file", rules,
		"--session-cache-ttl", "0s", "--log-level", "debug",
	}, o.extra...)
	p := start(t, "authproxy", args,
		"AUTHPROXY_CLIENT_SECRET="+o.clientSecret,
		"AUTHPROXY_COOKIE_SECRET=0123456789abcdef0123456789abcdef-idps")
	waitHTTP(t, p, u+"/readyz")
	return &gateway{url: u, proc: p}
}

// rulesYAML: a public rule, a login rule minting gateway tokens, and one
// forwarding the provider's access token.
const rulesYAML = `rules:
  - name: catalog
    match: {path: "/products/**"}
    access: public
    upstream: catalog
  - name: account
    match: {path: "/account/**"}
    access: authenticated
    upstream: account
  - name: api
    match: {path: "/api/**"}
    access: authenticated
    upstream: api
    forward: access-token
`

const rulesOpaqueYAML = `rules:
  - name: account
    match: {path: "/account/**"}
    access: authenticated
    upstream: account
`

// browser is a cookie jar and a client that follows redirects.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// login starts a login at the gateway, fills the provider's own login form
// with user and password, and follows the redirects back through the
// gateway's callback. It returns the last response (the gateway's
// redirect target) and its body.
func (b *browser) login(g *gateway, user, password string) (*http.Response, string) {
	t := b.t
	t.Helper()
	resp, body := b.get(g.url + "/oauth2/start?rd=%2Fdone")
	for range 3 { // a provider may show more than one page (dex: connector choice)
		if resp.Request.URL.Host == strings.TrimPrefix(g.url, "http://") {
			return resp, body
		}
		form, err := findLoginForm(resp.Request.URL, body)
		if err != nil {
			t.Fatalf("login page %s: %v\n%s", resp.Request.URL, err, tail(body, 30))
		}
		form.values.Set(form.user, user)
		form.values.Set(form.password, password)
		req, _ := http.NewRequest(http.MethodPost, form.action, strings.NewReader(form.values.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, body = b.do(req)
	}
	return resp, body
}

func (b *browser) get(u string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(body)
}

func (b *browser) cookie(g *gateway) string {
	u, _ := url.Parse(g.url)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "gw_session" {
			return c.Value
		}
	}
	return ""
}

// loginForm is the form of a provider's login page.
type loginForm struct {
	action         string
	values         url.Values
	user, password string // field names
}

// findLoginForm finds the form with a password field and its user field
// (the first text or email input), keeping every other field's value.
func findLoginForm(base *url.URL, page string) (*loginForm, error) {
	z := html.NewTokenizer(strings.NewReader(page))
	var cur *loginForm
	for {
		switch z.Next() {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				return nil, errors.New("no form with a password field")
			}
			return nil, z.Err()
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			attr := func(k string) string {
				for _, a := range tok.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch tok.Data {
			case "form":
				action, err := base.Parse(attr("action"))
				if err != nil {
					return nil, err
				}
				cur = &loginForm{action: action.String(), values: url.Values{}}
			case "input":
				if cur == nil || attr("name") == "" {
					continue
				}
				switch typ := strings.ToLower(attr("type")); {
				case typ == "password":
					cur.password = attr("name")
				case (typ == "" || typ == "text" || typ == "email") && cur.user == "":
					cur.user = attr("name")
				case typ == "submit" || typ == "checkbox":
				default:
					cur.values.Set(attr("name"), attr("value"))
				}
			}
		case html.EndTagToken:
			if tok := z.Token(); tok.Data == "form" && cur != nil {
				if cur.password != "" && cur.user != "" {
					return cur, nil
				}
				cur = nil
			}
		}
	}
}

// authz asks the gateway about a request the way Traefik's ForwardAuth does.
func authz(t *testing.T, g *gateway, uri, cookie, bearer, accept string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, g.url+"/authz", nil)
	req.Header.Set("X-Forwarded-Method", http.MethodGet)
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Host", "app.test")
	req.Header.Set("X-Forwarded-Uri", uri)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if cookie != "" {
		req.Header.Set("Cookie", "gw_session="+cookie)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("authz %s: %v", uri, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// metric returns the value of one metric line of the gateway's /metrics.
func metric(t *testing.T, g *gateway, line string) float64 {
	t.Helper()
	resp, err := http.Get(g.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for l := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(l, line+" ") {
			f, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(l, line)), 64)
			return f
		}
	}
	return 0
}
