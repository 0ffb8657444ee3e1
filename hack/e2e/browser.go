package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Selectors on the gateway page (authproxy's "/", authproxy/internal/server/web/index.html) and
// on the dev IdP's login form.
const (
	selLogin       = chromedp.ID("login")
	selLogout      = chromedp.ID("logout")
	selGreeting    = chromedp.CSS("#greeting")
	selBranch1     = chromedp.CSS(`button[data-url="/branches/1/products"]`)
	selResult      = chromedp.CSS("#result")
	selIDPForm     = chromedp.ID("login-form")
	selIDPLoginID  = chromedp.ID("loginId")
	selIDPPassword = chromedp.ID("password")
	selIDPSubmit   = chromedp.ID("login-button")
)

// BrowserOptions say how to run the browser.
type BrowserOptions struct {
	// Chromium is the browser's path.
	Chromium string
	// ScreenshotDir receives NN-name.png for every step and index.txt saying what each shows.
	ScreenshotDir string
	// ProxyURL, when set, is an HTTP proxy every request of the browser goes through (loopback
	// included): how a browser on the host reaches a cluster in a network namespace.
	ProxyURL string
}

// Browser signs in at the gateway page in headless Chromium as the branch manager, loads
// branch 1's products, is refused branch 2, logs out and is anonymous again, with a screenshot
// of every step.
func Browser(t *testing.T, s *Target, o BrowserOptions) {
	t.Helper()
	chromium := o.Chromium
	manager := User(t, "manager@example.com")

	dir := o.ScreenshotDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Screenshots of an earlier run would mix with this one's.
	if old, err := filepath.Glob(filepath.Join(dir, "[0-9][0-9]-*.png")); err == nil {
		for _, p := range old {
			_ = os.Remove(p)
		}
	}
	var shots, index []string
	t.Cleanup(func() {
		t.Logf("screenshots (%d):", len(shots))
		for _, p := range shots {
			t.Logf("  %s", p)
		}
		// index.txt says what each screenshot shows (CI lists the folder).
		_ = os.WriteFile(filepath.Join(dir, "index.txt"), []byte(strings.Join(index, "\n")+"\n"), 0o644)
	})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1024, 768),
	}
	if o.ProxyURL != "" {
		opts = append(opts, chromedp.ProxyServer(o.ProxyURL), chromedp.Flag("proxy-bypass-list", "<-loopback>"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	// do runs steps, failing the test with the page's address and text on error.
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			loc, _ := chromedp.Run(bctx, chromedp.Location())
			text, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, text)
		}
	}
	step := 0
	shot := func(name, shows string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // quality 100 = PNG
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		step++
		p := filepath.Join(dir, fmt.Sprintf("%02d-%s.png", step, name))
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		shots = append(shots, p)
		index = append(index, filepath.Base(p)+": "+shows)
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(bctx, chromedp.Location())
		if err != nil {
			t.Fatalf("location: %v", err)
		}
		return loc
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		txt, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return txt
	}
	bodyText := func() string { t.Helper(); return text("body") }
	// fetchStatus asks the page's own origin for path as an API client and returns the status.
	fetchStatus := func(path string) int {
		t.Helper()
		status, err := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf(
			`fetch(%q, {headers: {Accept: "application/json"}, credentials: "same-origin", redirect: "manual"}).then(r => r.status)`, path),
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("fetch %s: %v", path, err)
		}
		return status
	}

	// 1. The gateway page, anonymous.
	do("open the gateway page", chromedp.Navigate(s.GatewayURL+"/"), chromedp.WaitVisible(selLogin))
	shot("gateway-anonymous", `the gateway page before login: "You are not logged in." and the Login button`)
	if txt := bodyText(); strings.Contains(txt, "Hello") {
		t.Fatalf("anonymous page already says Hello:\n%s", txt)
	}

	// 2. Login: the dev IdP's form.
	do("click Login", chromedp.Click(selLogin), chromedp.WaitVisible(selIDPForm))
	if loc := location(); !strings.HasPrefix(loc, s.IdPURL+"/oauth2/authorize") {
		t.Fatalf("Login led to %s, want the dev IdP's /oauth2/authorize", loc)
	}
	shot("devidp-login-form", `after clicking Login: the dev IdP's (FusionAuth stand-in) login form`)
	do("fill in the form",
		chromedp.SendKeys(selIDPLoginID, manager.Email),
		chromedp.SendKeys(selIDPPassword, manager.Password))
	shot("devidp-login-filled", `the login form filled in with the branch manager (manager@example.com)`)

	// 3. Back at the gateway, signed in.
	hello := "Hello " + manager.Name
	do("sign in",
		chromedp.Click(selIDPSubmit),
		chromedp.WaitVisible(selLogout))
	if loc := location(); !strings.HasPrefix(loc, s.GatewayURL+"/") {
		t.Fatalf("after login at %s, want the gateway page", loc)
	}
	if got := text(selGreeting); !strings.HasPrefix(got, hello) {
		t.Fatalf("greeting %q, want %q", got, hello)
	}
	shot("gateway-hello-manager", `back at the gateway page, signed in: "Hello Max Manager", roles branch-manager, Logout button`)

	// 4. Branch 1's products through the page's button.
	do("load branch 1",
		chromedp.Click(selBranch1),
		chromedp.Poll[chromedp.Void](`document.getElementById("result").textContent.startsWith("200 ")`,
			chromedp.WithPollingTimeout(20*time.Second)))
	if got := text(selResult); !strings.Contains(got, "products") && !strings.Contains(got, "items") {
		t.Errorf("branch 1 result shows no products:\n%s", got)
	}
	shot("branch-1-products", `GET /branches/1/products from the page's button: 200 and branch 1's products`)
	if got := fetchStatus("/branches/1/products"); got != 200 {
		t.Errorf("fetch /branches/1/products as the manager: status %d, want 200", got)
	}

	// 5. Branch 2 is refused (inventory's branch check).
	if got := fetchStatus("/branches/2/products"); got != 403 {
		t.Errorf("fetch /branches/2/products as the manager: status %d, want 403", got)
	}
	resp, err := chromedp.Run(bctx, chromedp.NavigateResponse(s.GatewayURL+"/branches/2/products"))
	if err != nil {
		t.Fatalf("open branch 2: %v", err)
	}
	if resp.Status != 403 {
		t.Errorf("open /branches/2/products as the manager: status %d, want 403", resp.Status)
	}
	shot("branch-2-refused", `/branches/2/products opened as the manager: 403 from inventory ("this branch is not one of yours")`)

	// 6. Logout, then anonymous again.
	do("log out",
		chromedp.Navigate(s.GatewayURL+"/"),
		chromedp.WaitVisible(selLogout),
		chromedp.Click(selLogout),
		chromedp.WaitVisible(selLogin))
	if loc := location(); !strings.HasPrefix(loc, s.GatewayURL+"/") {
		t.Errorf("after logout at %s, want the gateway page", loc)
	}
	if txt := bodyText(); strings.Contains(txt, hello) {
		t.Errorf("after logout the page still says %q", hello)
	}
	if got := fetchStatus("/branches/1/products"); got != 401 {
		t.Errorf("fetch /branches/1/products after logout: status %d, want 401", got)
	}
	do("call branch 1 anonymously",
		chromedp.Click(selBranch1),
		chromedp.Poll[chromedp.Void](`document.getElementById("result").textContent.startsWith("401 ")`,
			chromedp.WithPollingTimeout(20*time.Second)))
	shot("gateway-logged-out", `after Logout (through the dev IdP logout): the gateway page is anonymous again, and its branch 1 button gets 401 unauthenticated`)
	cookies, err := chromedp.Run(bctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.GatewayURL + "/"}})
		return res.Cookies, err
	})
	if err != nil {
		t.Fatalf("cookies: %v", err)
	}
	for _, c := range cookies {
		if strings.Contains(c.Name, "gw_session") && c.Value != "" {
			t.Errorf("session cookie %s still set after logout", c.Name)
		}
	}
}
