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

	"github.com/gatewarden/gatewarden/hack/devidp"
)

// Selectors on the storefront (authproxy's "/", authproxy/internal/server/web/index.html) and
// on the dev IdP's login form.
const (
	selLogin       = chromedp.ID("login")
	selLogout      = chromedp.ID("logout")
	selGreeting    = chromedp.CSS("#greeting")
	selSearchQ     = chromedp.ID("search-q")
	selSearch      = chromedp.ID("search")
	selNext        = chromedp.ID("next")
	selPageInfo    = chromedp.CSS("#page-info")
	selProductName = chromedp.CSS("#product-name")
	selEditPrice   = chromedp.ID("edit-price")
	selEditSave    = chromedp.ID("edit-save")
	selEditAnswer  = chromedp.CSS("#edit-answer")
	selAdjBranch   = chromedp.ID("adjust-branch")
	selAdjDelta    = chromedp.ID("adjust-delta")
	selAdjSave     = chromedp.ID("adjust-save")
	selAdjAnswer   = chromedp.CSS("#adjust-answer")
	selStockAnswer = chromedp.CSS("#stock-answer")
	selBranchID    = chromedp.ID("branch-id")
	selBranchShow  = chromedp.ID("branch-show")
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

// Browser uses the storefront (authproxy's page) in headless Chromium the way people would,
// with a screenshot of each state: anonymous browsing (list, search, paging, a product page);
// the dev IdP's login; a customer refused an edit; the branch manager editing branch 1's stock
// and refused branch 2; an admin editing a product; logout. Every answer must be a sentence,
// never raw JSON. It changes a price and a quantity, and sets them back where it can.
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

	// waitText polls until the element's text contains want.
	waitText := func(sel chromedp.CSS, want string) string {
		t.Helper()
		js := fmt.Sprintf(`(function(){var e=document.querySelector(%q);return !!e && e.textContent.indexOf(%q)>=0})()`, string(sel), want)
		if err := chromedp.Do(bctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			got, _ := chromedp.Run(bctx, chromedp.Text(sel))
			t.Fatalf("waiting for %q in %s: %v; it says %q", want, sel, err, got)
		}
		return text(sel)
	}
	// inWords fails when an answer looks like JSON rather than a sentence.
	inWords := func(answer string) {
		t.Helper()
		if strings.ContainsAny(answer, "{}") || strings.Contains(answer, `"error"`) {
			t.Errorf("answer is not in words: %q", answer)
		}
	}
	loginAs := func(u devidp.User) {
		t.Helper()
		do("log in as "+u.Email,
			chromedp.Navigate(s.GatewayURL+"/"), chromedp.WaitVisible(selLogin),
			chromedp.Click(selLogin), chromedp.WaitVisible(selIDPForm),
			chromedp.SendKeys(selIDPLoginID, u.Email), chromedp.SendKeys(selIDPPassword, u.Password),
			chromedp.Click(selIDPSubmit), chromedp.WaitVisible(selLogout))
		if got := text(selGreeting); !strings.HasPrefix(got, "Hello "+u.Name) {
			t.Fatalf("greeting %q, want Hello %s", got, u.Name)
		}
	}
	logout := func() {
		t.Helper()
		do("log out", chromedp.Navigate(s.GatewayURL+"/"), chromedp.WaitVisible(selLogout),
			chromedp.Click(selLogout), chromedp.WaitVisible(selLogin))
	}
	openProduct := func(id int) {
		t.Helper()
		do(fmt.Sprintf("open product %d", id), chromedp.Navigate(fmt.Sprintf("%s/#product-%d", s.GatewayURL, id)))
		js := `document.getElementById("product-name").textContent.length > 0`
		do("product page loads", chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(20*time.Second)))
	}
	setPrice := func(price string) {
		t.Helper()
		do("set the price", chromedp.SetValue(selEditPrice, price), chromedp.Click(selEditSave))
	}

	// 1. Anonymous browsing: the list, paging, search, a product page.
	do("open the shop", chromedp.Navigate(s.GatewayURL+"/"), chromedp.WaitVisible(selLogin))
	waitText(selPageInfo, "Products 1\u201310 of 36")
	if txt := bodyText(); strings.Contains(txt, "Hello") || !strings.Contains(txt, "Espresso Beans 1kg") {
		t.Fatalf("anonymous shop page:\n%s", txt)
	}
	shot("shop-anonymous", `the shop, not logged in: the first 10 of 36 products with prices, search, paging, Login`)
	do("next page", chromedp.Click(selNext))
	waitText(selPageInfo, "Products 11\u201320 of 36")
	shot("shop-page-2", `anonymous: the second page of products (11 to 20 of 36)`)
	do("search", chromedp.SendKeys(selSearchQ, "syrup"), chromedp.Click(selSearch))
	waitText(selPageInfo, "of 3 matching")
	shot("shop-search", `anonymous: a search for "syrup" finds the 3 syrups`)
	openProduct(16)
	if got := text(selProductName); got != "Moka Pot 6-Cup" {
		t.Fatalf("product 16 is %q", got)
	}
	if txt := bodyText(); strings.Contains(txt, "Change this product") {
		t.Errorf("anonymous product page offers editing:\n%s", txt)
	}
	shot("product-anonymous", `anonymous: the product page of the Moka Pot (no editing when not logged in)`)
	if got := fetchStatus("/branches/1/products"); got != 401 {
		t.Errorf("anonymous fetch /branches/1/products: status %d, want 401", got)
	}

	// 2. Login through the dev IdP's form, as the customer.
	customer := User(t, "customer@example.com")
	do("click Login", chromedp.Click(selLogin), chromedp.WaitVisible(selIDPForm))
	if loc := location(); !strings.HasPrefix(loc, s.IdPURL+"/oauth2/authorize") {
		t.Fatalf("Login led to %s, want the dev IdP's /oauth2/authorize", loc)
	}
	do("fill in the form", chromedp.SendKeys(selIDPLoginID, customer.Email), chromedp.SendKeys(selIDPPassword, customer.Password))
	shot("devidp-login-filled", `the dev IdP's (FusionAuth stand-in) login form, filled in with the customer`)
	do("sign in", chromedp.Click(selIDPSubmit), chromedp.WaitVisible(selLogout))

	// 3. The customer tries to change a product and to take stock out: refused, and told why.
	openProduct(16)
	price := text(chromedp.CSS("#product-price"))
	setPrice("9.99")
	answer := waitText(selEditAnswer, "Refused by the gateway")
	if !strings.Contains(answer, "needs the role admin") || !strings.Contains(answer, "Your roles: user") {
		t.Errorf("customer edit answer %q", answer)
	}
	inWords(answer)
	do("customer changes stock", chromedp.SetValue(selAdjBranch, "1"), chromedp.SetValue(selAdjDelta, "-1"), chromedp.Click(selAdjSave))
	inWords(waitText(selAdjAnswer, "needs the role admin or branch-manager"))
	inWords(waitText(selStockAnswer, "shown to admins and branch managers"))
	shot("customer-refused-edit", `the customer tried to change the Moka Pot's price and branch 1's stock: both refused by the gateway, in words ("needs the role admin"), price unchanged`)
	if got := text(chromedp.CSS("#product-price")); got != price {
		t.Errorf("price after the refused edit: %q, was %q", got, price)
	}
	logout()

	// 4. The branch manager edits branch 1's stock and is refused branch 2.
	loginAs(manager)
	do("stock table", chromedp.WaitVisible(chromedp.CSS("#branch-1 input.qty")))
	if txt := bodyText(); strings.Contains(txt, "Branch 2:") {
		t.Errorf("the manager sees branch 2's stock:\n%s", txt)
	}
	do("change a quantity", chromedp.SetValue(chromedp.CSS("#branch-1 input.qty"), "42"), chromedp.Click(chromedp.CSS("#branch-1 button.save-qty")))
	inWords(waitText(selStockAnswer, "Saved: Berlin Mitte now has 42"))
	shot("manager-edits-branch-1", `the branch manager set a quantity at branch 1 (Berlin Mitte): "Saved: Berlin Mitte now has 42 of ..."`)
	do("look at branch 2", chromedp.SetValue(selBranchID, "2"), chromedp.Click(selBranchShow))
	inWords(waitText(selStockAnswer, "Refused by the service: this branch is not one of yours"))
	openProduct(4)
	do("take stock out at branch 2", chromedp.SetValue(selAdjBranch, "2"), chromedp.SetValue(selAdjDelta, "-1"), chromedp.Click(selAdjSave))
	inWords(waitText(selAdjAnswer, "Refused by the service: this branch is not one of yours"))
	do("take stock out at branch 1", chromedp.SetValue(selAdjBranch, "1"), chromedp.SetValue(selAdjDelta, "-1"), chromedp.Click(selAdjSave))
	inWords(waitText(selAdjAnswer, "Saved: branch 1 now has"))
	do("take stock out at branch 2 again", chromedp.SetValue(selAdjBranch, "2"), chromedp.Click(selAdjSave))
	inWords(waitText(selAdjAnswer, "Refused by the service: this branch is not one of yours"))
	shot("manager-refused-branch-2", `the manager on the Cold Brew Pack page: taking one out at branch 2 is refused by inventory ("this branch is not one of yours"); branch 2's stock was refused too`)
	if got := fetchStatus("/branches/2/products"); got != 403 {
		t.Errorf("fetch /branches/2/products as the manager: status %d, want 403", got)
	}
	logout()

	// 5. The admin edits a product; the new price is what everyone sees.
	admin := User(t, "admin@example.com")
	loginAs(admin)
	openProduct(16)
	setPrice("31.50")
	inWords(waitText(selEditAnswer, "Saved: \u201cMoka Pot 6-Cup\u201d now costs 31.50 EUR"))
	shot("admin-edits-product", `the admin changed the Moka Pot's price to 31.50 EUR: "Saved"`)
	setPrice("29.00")
	inWords(waitText(selEditAnswer, "now costs 29.00 EUR"))

	// 6. Logout: anonymous again, the cookie is gone, the new price is public.
	logout()
	if txt := bodyText(); strings.Contains(txt, "Hello") {
		t.Errorf("after logout the page still greets someone:\n%s", txt)
	}
	if got := fetchStatus("/branches/1/products"); got != 401 {
		t.Errorf("fetch /branches/1/products after logout: status %d, want 401", got)
	}
	openProduct(16)
	waitText(chromedp.CSS("#product-price"), "29.00 EUR")
	shot("gateway-logged-out", `after Logout: anonymous again; the Moka Pot shows the admin's new price`)
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
