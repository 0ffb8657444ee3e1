package idps

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/devidp"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// provider is one OpenID provider under test, started and configured the
// way its users do it.
type provider struct {
	url            string // discovery base (authproxy --fusionauth-url)
	clientID       string
	clientSecret   string
	user, password string
	jwtAccess      bool // access tokens are JWTs (the api rule forwards them)
	endSession     bool // discovery announces an end_session_endpoint
	// revoke makes the provider forget every grant of the user (the
	// provider's own revocation); nil when the logout of another session
	// already did it (zitadel's end_session terminates the user's tokens).
	revoke func()
	// refreshFor keeps refreshing for at least this long (across key
	// rotations for dex).
	refreshFor time.Duration
	// afterRefresh checks the provider after the refresh loop.
	afterRefresh func()
}

// flows runs login, bearer use of the access token, refresh with rotated
// refresh tokens, RP-initiated (or local) logout, revocation at the
// provider and a new login, through a real authproxy and redis-server.
func flows(t *testing.T, g *gateway, p provider) {
	a := newBrowser(t)
	if resp, body := a.login(g, p.user, p.password); resp.Request.URL.Path != "/done" || a.cookie(g) == "" {
		t.Fatalf("login ended at %s (%d), no session:\n%s", resp.Request.URL, resp.StatusCode, tail(body, 20))
	}
	cookieA := a.cookie(g)
	resp := authz(t, g, "/account/me", cookieA, "", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Authorization"), "Bearer ") {
		t.Fatalf("authenticated rule after login: %d", resp.StatusCode)
	}
	if sub := jwtClaim(t, strings.TrimPrefix(resp.Header.Get("Authorization"), "Bearer "), "sub"); sub == "" || sub == "anonymous" {
		t.Fatalf("gateway token sub %q", sub)
	}
	_, body := a.get(g.url + "/oauth2/userinfo")
	var info struct{ Sub, Email, Name string }
	if err := json.Unmarshal([]byte(body), &info); err != nil || info.Sub == "" || info.Email == "" || info.Name == "" {
		t.Errorf("userinfo %s: want sub, email and name (from the tokens or the provider's userinfo)", body)
	}

	var access string
	if p.jwtAccess {
		resp = authz(t, g, "/api/x", cookieA, "", "")
		access = strings.TrimPrefix(resp.Header.Get("Authorization"), "Bearer ")
		if resp.StatusCode != http.StatusOK || strings.Count(access, ".") != 2 {
			t.Fatalf("access-token rule: %d, token forwarded: %v", resp.StatusCode, access != "")
		}
		// The provider's own access token, presented by an API client.
		if resp := authz(t, g, "/account/me", "", access, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("provider access token as bearer: %d\n%s", resp.StatusCode, tail(g.proc.logs.String(), 10))
		}
	}

	// Refresh, with the refresh token rotated by the provider each time:
	// every request keeps passing while the tokens are renewed.
	const refreshed = `authproxy_token_refreshes_total{outcome="refreshed"}`
	begin := time.Now()
	for time.Since(begin) < p.refreshFor || metric(t, g, refreshed) < 3 {
		if time.Since(begin) > p.refreshFor+time.Minute {
			t.Fatalf("only %v refreshes", metric(t, g, refreshed))
		}
		if resp := authz(t, g, "/account/me", cookieA, "", "text/html"); resp.StatusCode != http.StatusOK {
			t.Fatalf("during refreshes (%v done, %s in): %d\n%s", metric(t, g, refreshed), time.Since(begin).Round(time.Second),
				resp.StatusCode, tail(g.proc.logs.String(), 15))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if p.afterRefresh != nil {
		p.afterRefresh()
	}
	if p.jwtAccess {
		if now := strings.TrimPrefix(authz(t, g, "/api/x", cookieA, "", "").Header.Get("Authorization"), "Bearer "); now == access {
			t.Errorf("access token unchanged after %v refreshes", metric(t, g, refreshed))
		}
	}

	// Logout of a second session of the same user.
	b := newBrowser(t)
	b.login(g, p.user, p.password)
	cookieB := b.cookie(g)
	noFollow := &http.Client{Jar: b.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, g.url+"/oauth2/logout", nil)
	req.Header.Set("Origin", g.url)
	lresp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lresp.Body.Close()
	loc, _ := url.Parse(lresp.Header.Get("Location"))
	if lresp.StatusCode != http.StatusSeeOther || loc == nil {
		t.Fatalf("logout: %d %q", lresp.StatusCode, lresp.Header.Get("Location"))
	}
	if p.endSession {
		q := loc.Query()
		if q.Get("id_token_hint") == "" || q.Get("post_logout_redirect_uri") != g.url+"/" || q.Get("client_id") != p.clientID {
			t.Fatalf("RP-initiated logout URL %s: want client_id, id_token_hint and post_logout_redirect_uri", loc)
		}
		// The id_token is no bearer credential.
		if resp := authz(t, g, "/account/me", "", q.Get("id_token_hint"), ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("id_token as bearer: %d, want 401", resp.StatusCode)
		}
		// The provider ends its session and sends the browser back.
		end, _ := b.get(loc.String())
		if got := end.Request.URL.String(); got != g.url+"/" {
			t.Errorf("after the provider's logout the browser is at %s, want %s/", got, g.url)
		}
	} else if loc.String() != g.url+"/" {
		t.Fatalf("logout without end_session_endpoint: Location %s, want the gateway %s/", loc, g.url)
	}
	if resp := authz(t, g, "/account/me", cookieB, "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("logged-out session: %d, want 401", resp.StatusCode)
	}

	// Revocation at the provider: the next refresh is refused, the session
	// ends and the user is sent to log in (never a 503 loop).
	if p.revoke != nil {
		p.revoke()
	}
	err = testkit.Poll(t.Context(), "the revoked session to end", 30*time.Second, 250*time.Millisecond, func(context.Context) error {
		resp := authz(t, g, "/account/me", cookieA, "", "text/html")
		if resp.StatusCode == http.StatusServiceUnavailable {
			return testkit.Abort(fmt.Errorf("revoked refresh token answered 503\n%s", tail(g.proc.logs.String(), 15)))
		}
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/oauth2/start") {
			return fmt.Errorf("authz answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp := authz(t, g, "/account/me", cookieA, "", "application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API client with the revoked session: %d, want 401", resp.StatusCode)
	}

	// A new login works (after key rotations and provider restarts).
	c := newBrowser(t)
	c.login(g, p.user, p.password)
	if resp := authz(t, g, "/account/me", c.cookie(g), "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("login again: %d\n%s", resp.StatusCode, tail(g.proc.logs.String(), 15))
	}
}

// jwtClaim reads one string claim of a JWT without verifying it.
func jwtClaim(t *testing.T, raw, name string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// TestDevIDP: the flows against the dev IdP (FusionAuth's endpoints and
// claims), refresh tokens rotated (FusionAuth's OneTimeUse).
func TestDevIDP(t *testing.T) {
	needBinaries(t)
	gwPort, idpPort := testkit.FreePort(t), testkit.FreePort(t)
	gw := "http://127.0.0.1:" + strconv.Itoa(gwPort)
	idpURL := "http://127.0.0.1:" + strconv.Itoa(idpPort)
	args := []string{filepath.Join(bin, "devidp"), "--listen", "127.0.0.1:" + strconv.Itoa(idpPort),
		"--redirect-uris", gw + "/oauth2/callback", "--logout-uris", gw + "/",
		"--access-token-ttl", "20s", "--rotate-refresh-tokens"}
	idp := start(t, "devidp", args)
	waitHTTP(t, idp, idpURL+"/.well-known/openid-configuration")
	admin, err := devidp.DefaultUser("admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, gatewayOpts{
		providerURL: idpURL, clientID: devidp.DefaultClientID, clientSecret: devidp.DefaultClientSecret, port: gwPort,
		extra: []string{"--refresh-window", "18s"},
	})
	flows(t, g, provider{
		url: idpURL, clientID: devidp.DefaultClientID, user: admin.Email, password: admin.Password,
		jwtAccess: true, endSession: true,
		revoke: func() { // in-memory: a restart forgets every refresh token
			idp.stop()
			idp = start(t, "devidp", args)
			waitHTTP(t, idp, idpURL+"/.well-known/openid-configuration")
		},
	})
}

// TestZitadel: zitadel/oidc's example provider, with JWT and with opaque
// access tokens. Its access tokens live 5 minutes; a 298 s refresh window
// refreshes every couple of seconds. Its refresh tokens rotate on every
// use, and its end_session endpoint (reached through authproxy's logout of
// a second session) terminates every token of the user, which the first
// session then learns at its next refresh.
func TestZitadel(t *testing.T) {
	needBinaries(t)
	for _, format := range []string{"jwt", "opaque"} {
		t.Run(format, func(t *testing.T) {
			gwPort, opPort := testkit.FreePort(t), testkit.FreePort(t)
			gw := "http://127.0.0.1:" + strconv.Itoa(gwPort)
			issuer := "http://127.0.0.1:" + strconv.Itoa(opPort) + "/"
			op := start(t, "zitadel-op", []string{filepath.Join(bin, "zitadel-op"), "-addr", "127.0.0.1:" + strconv.Itoa(opPort),
				"-client-id", "gatewarden", "-client-secret", "zitadel-secret", "-redirect-uri", gw + "/oauth2/callback",
				"-post-logout-redirect-uri", gw + "/", "-access-token", format})
			waitHTTP(t, op, issuer+".well-known/openid-configuration")
			o := gatewayOpts{
				providerURL: issuer, clientID: "gatewarden", clientSecret: "zitadel-secret", port: gwPort,
				extra: []string{"--refresh-window", "298s", "--oidc-scopes", "openid,offline_access,email,profile",
					"--oidc-access-token-format", format},
			}
			if format == "opaque" {
				o.rules = rulesOpaqueYAML
			}
			g := startGateway(t, o)
			flows(t, g, provider{
				url: issuer, clientID: "gatewarden", user: "test-user@127.0.0.1", password: "verysecure",
				jwtAccess: format == "jwt", endSession: true,
			})
		})
	}
}

// dexConfig is dex's configuration as its users write it: memory storage,
// the password database with one static user, one static client, no
// approval screen, id tokens of one minute and signing keys rotated every
// ten seconds (dex checks every 30 s, so keys rotate twice a minute).
const dexConfig = `issuer: %[1]s
storage:
  type: memory
web:
  http: 127.0.0.1:%[2]d
logger:
  level: info
  format: json
oauth2:
  skipApprovalScreen: true
expiry:
  idTokens: 1m
  signingKeys: 10s
staticClients:
  - id: gatewarden
    name: gatewarden
    secret: dex-secret
    redirectURIs:
      - %[3]s/oauth2/callback
enablePasswordDB: true
staticPasswords:
  - email: admin@example.com
    # bcrypt of "password" (dex's own example)
    hash: "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
    username: admin
    userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
`

// TestDex: dex v2.41.1, whose access tokens are JWTs shaped like its
// id_tokens (nonce included), whose discovery has no end_session_endpoint,
// which rotates refresh tokens on use and its signing keys twice a minute.
// The refresh loop runs across two key rotations. A restart of dex (memory
// storage) revokes every grant.
func TestDex(t *testing.T) {
	needBinaries(t)
	gwPort, dexPort := testkit.FreePort(t), testkit.FreePort(t)
	gw := "http://127.0.0.1:" + strconv.Itoa(gwPort)
	issuer := "http://127.0.0.1:" + strconv.Itoa(dexPort) + "/dex"
	cfg := filepath.Join(t.TempDir(), "dex.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, dexConfig, issuer, dexPort, gw), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(bin, "dex"), "serve", cfg}
	dex := start(t, "dex", args)
	waitHTTP(t, dex, issuer+"/.well-known/openid-configuration")
	g := startGateway(t, gatewayOpts{
		providerURL: issuer, clientID: "gatewarden", clientSecret: "dex-secret", port: gwPort,
		extra: []string{"--refresh-window", "58s", "--oidc-scopes", "openid,offline_access,email,profile", "--oidc-roles-claim", "groups"},
	})
	refreshFor := 65 * time.Second
	if testing.Short() {
		refreshFor = 0
	}
	flows(t, g, provider{
		url: issuer, clientID: "gatewarden", user: "admin@example.com", password: "password",
		jwtAccess: true, endSession: false, refreshFor: refreshFor,
		afterRefresh: func() {
			// The first key at start, then at least two rotations while the
			// session kept refreshing.
			if n := strings.Count(dex.logs.String(), `"msg":"keys rotated"`); n < 3 && !testing.Short() {
				t.Errorf("dex rotated its keys %d times during the test, want at least 3", n)
			}
		},
		revoke: func() {
			dex.stop()
			dex = start(t, "dex", args)
			waitHTTP(t, dex, issuer+"/.well-known/openid-configuration")
		},
	})
}
