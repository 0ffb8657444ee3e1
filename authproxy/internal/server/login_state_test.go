package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestStartIsStateless: /oauth2/start asks the session store nothing,
// however often it is called (no login-state flood); only a completed
// callback writes, and then one used-state marker that expires with the
// state. (That the Redis state store keeps such a marker as one key with
// that TTL is checked by the session-store suite.)
func TestStartIsStateless(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{})
	p := ps[0]

	before := e.store.Calls()
	for range 50 {
		newBrowser(t).startLogin(p, "/")
	}
	if d := e.store.Calls() - before; d != 0 {
		t.Errorf("50 logins started made %d session store calls; want 0", d)
	}
	if m := e.store.Markers(); len(m) != 0 {
		t.Errorf("the store holds %d used-state markers after 50 starts; want 0", len(m))
	}

	// The counter sees the callback's writes: one marker, expiring with the state.
	newBrowser(t).login(p, "customer@example.com", "/")
	if e.store.Calls() == before {
		t.Fatal("the call counter saw nothing; the test is blind")
	}
	markers := e.store.Markers()
	if len(markers) != 1 {
		t.Fatalf("used-state markers %v; want one", markers)
	}
	for _, ttl := range markers {
		if ttl <= 0 || ttl > stateTTL {
			t.Errorf("marker TTL %v; want (0, %v]", ttl, stateTTL)
		}
	}
}

// TestLoginStateCookieAttacks: the callback fails closed (400 login_failed,
// no session, no marker written) when the sealed login-state cookie is
// missing, tampered, sealed under another secret, sealed for sessions
// rather than login states, a session cookie, for another state, or
// expired; and a login-state cookie is no session cookie.
func TestLoginStateCookieAttacks(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Now())
	e, ps := newEnv(t, envOpts{now: clock.Now})
	p := ps[0]
	base := must(url.Parse(p.url))

	// begin starts a login in a new browser and returns it, the callback
	// URL, its state and its login-state cookie.
	begin := func(t *testing.T) (*browser, string, string, *http.Cookie) {
		t.Helper()
		b := newBrowser(t)
		cb := b.idpLogin(b.startLogin(p, "/"), "customer@example.com")
		cs := b.loginCookies(p)
		if len(cs) != 1 {
			t.Fatalf("login-state cookies %v; want one", cs)
		}
		return b, cb, must(url.Parse(cb)).Query().Get("state"), cs[0]
	}
	other, err := newCookieSpec(&config.Config{PublicURL: p.url, CookieName: "gw_session", CookieSecret: "another-secret-another-secret-xx"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, b *browser, state string, c *http.Cookie)
	}{
		{name: "missing", tamper: func(_ *testing.T, b *browser, _ string, c *http.Cookie) {
			b.jar.SetCookies(base, []*http.Cookie{{Name: c.Name, Value: "", Path: "/", MaxAge: -1}})
		}},
		{name: "tampered", tamper: func(_ *testing.T, b *browser, _ string, c *http.Cookie) {
			v := []byte(c.Value)
			if v[20] == 'A' {
				v[20] = 'B'
			} else {
				v[20] = 'A'
			}
			b.jar.SetCookies(base, []*http.Cookie{{Name: c.Name, Value: string(v), Path: "/"}})
		}},
		{name: "truncated", tamper: func(_ *testing.T, b *browser, _ string, c *http.Cookie) {
			b.jar.SetCookies(base, []*http.Cookie{{Name: c.Name, Value: c.Value[:10], Path: "/"}})
		}},
		{name: "sealed under another secret", tamper: func(t *testing.T, b *browser, state string, c *http.Cookie) {
			v, err := other.sealLogin(&loginState{State: state, Verifier: "v", Nonce: "n", Return: "/", Expiry: clock.Now().Add(time.Minute).UnixMilli()})
			if err != nil {
				t.Fatal(err)
			}
			b.jar.SetCookies(base, []*http.Cookie{{Name: c.Name, Value: v, Path: "/"}})
		}},
		{name: "sealed for sessions under the same secret", tamper: func(t *testing.T, b *browser, state string, c *http.Cookie) {
			plain, err := json.Marshal(&loginState{State: state, Verifier: "v", Nonce: "n", Return: "/", Expiry: clock.Now().Add(time.Minute).UnixMilli()})
			if err != nil {
				t.Fatal(err)
			}
			sealer, err := session.NewSealer([]byte(p.srv.cfg.CookieSecret.Reveal()), nil, session.PurposeSession)
			if err != nil {
				t.Fatal(err)
			}
			v := base64.RawURLEncoding.EncodeToString(sealer.Seal([]byte(state), plain))
			b.jar.SetCookies(base, []*http.Cookie{{Name: c.Name, Value: v, Path: "/"}})
		}},
		{name: "a session cookie", tamper: func(t *testing.T, b *browser, _ string, c *http.Cookie) {
			cookie, _ := loggedIn(t, p, "customer@example.com")
			b.jar.SetCookies(base, []*http.Cookie{{Name: c.Name, Value: cookie, Path: "/"}})
		}},
		{name: "for another state", tamper: func(t *testing.T, b *browser, _ string, c *http.Cookie) {
			_, _, _, mine := begin(t) // another login's valid cookie, renamed for this state
			b.jar.SetCookies(base, []*http.Cookie{{Name: c.Name, Value: mine.Value, Path: "/"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, cb, state, c := begin(t)
			tt.tamper(t, b, state, c)
			resp, body := b.get(cb)
			assertLoginFailed(t, resp, body)
			if b.session(p) != "" {
				t.Error("session created")
			}
			if _, spent := e.store.Markers()[state]; spent {
				t.Error("a refused callback spent the state")
			}
		})
	}
	t.Run("as a session cookie", func(t *testing.T) {
		t.Parallel()
		_, _, _, c := begin(t)
		resp, body := fwd{uri: "/account/me", cookie: c.Value, accept: jsonAccept}.send(t, p, dialectForwarded)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Authorization") != "" {
			t.Fatalf("login-state cookie as the session cookie: %d %s, want 401", resp.StatusCode, body)
		}
	})
	t.Run("expired", func(t *testing.T) {
		// Not parallel with the cases above: it moves the shared clock.
		b, cb, _, _ := begin(t)
		clock.Advance(stateTTL + time.Second)
		resp, body := b.get(cb)
		assertLoginFailed(t, resp, body)
		if b.session(p) != "" {
			t.Error("session created from an expired state")
		}
	})
}

// TestParallelLogins: logins started in two tabs of one browser both
// complete, each to its own return URL; past maxLogins logins in flight the
// older ones are cleared and the newest still completes.
func TestParallelLogins(t *testing.T) {
	t.Parallel()
	_, ps := newEnv(t, envOpts{})
	p := ps[0]

	t.Run("two tabs", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		authA := b.startLogin(p, "/tab-a")
		authB := b.startLogin(p, "/tab-b")
		cbB := b.idpLogin(authB, "customer@example.com")
		resp, _ := b.get(authA) // the IdP remembers the login: straight back
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("second authorize: %d", resp.StatusCode)
		}
		cbA := resp.Header.Get("Location")
		for _, tab := range []struct{ cb, want string }{{cbB, "/tab-b"}, {cbA, "/tab-a"}} {
			resp, body := b.get(tab.cb)
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tab.want {
				t.Fatalf("callback: %d %s %s; want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), body, tab.want)
			}
		}
		if b.session(p) == "" {
			t.Error("no session")
		}
	})
	t.Run("cap", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		var last string
		for range maxLogins + 1 {
			last = b.startLogin(p, "/last")
			if n := len(b.loginCookies(p)); n > maxLogins {
				t.Fatalf("%d login-state cookies; want at most %d", n, maxLogins)
			}
		}
		resp, body := b.get(b.idpLogin(last, "customer@example.com"))
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/last" {
			t.Fatalf("newest login: %d %s", resp.StatusCode, body)
		}
	})
}
