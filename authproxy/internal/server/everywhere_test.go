package server

import (
	"net/http"
	"testing"
)

// TestLogoutEverywhere: POST and same origin only (as logout); it ends
// every session of the user, on both replicas, clears the cookie and
// leaves through the provider's end_session_endpoint; another user's
// session stays, and without a session it only clears the cookie. It
// writes one audit line (source user) counting the two sessions it ended.
func TestLogoutEverywhere(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{proxies: 2})
	p, q := ps[0], ps[1]
	c1, b1 := loggedIn(t, p, "customer@example.com")
	c2, _ := loggedIn(t, q, "customer@example.com")
	other, _ := loggedIn(t, p, "admin@example.com")
	alive := func(p *proxy, cookie string) bool {
		r, _ := (fwd{uri: "/account/me", cookie: cookie, accept: jsonAccept}).send(t, p, dialectForwarded)
		return r.StatusCode == http.StatusOK
	}
	post := func(b *browser, headers map[string]string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, p.url+logoutEverywherePath, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, _ := b.do(req)
		return resp
	}
	refusals := []struct {
		name    string
		headers map[string]string
	}{
		{name: "foreign origin", headers: map[string]string{"Origin": "https://evil.example"}},
		{name: "null origin", headers: map[string]string{"Origin": "null"}},
		{name: "no origin no referer"},
		{name: "foreign referer", headers: map[string]string{"Referer": "https://evil.example/"}},
	}
	for _, tt := range refusals {
		if resp := post(b1, tt.headers); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: %d, want 403", tt.name, resp.StatusCode)
		}
		if !alive(p, c1) || !alive(q, c2) {
			t.Fatalf("%s ended a session", tt.name)
		}
	}
	if resp, _ := b1.get(p.url + logoutEverywherePath); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d, want 405", resp.StatusCode)
	}

	resp := post(b1, map[string]string{"Origin": p.url})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") == "" {
		t.Fatalf("logout everywhere: %d Location %q, want 303", resp.StatusCode, resp.Header.Get("Location"))
	}
	if b1.session(p) != "" {
		t.Errorf("cookie not cleared")
	}
	var revoked []map[string]any
	for _, m := range auditLines(t, e.logs.String()) {
		if m["source"] == "user" {
			revoked = append(revoked, m)
		}
	}
	if len(revoked) != 1 || revoked[0]["event"] != "sessions_revoked" || revoked[0]["sessions_ended"] != float64(2) ||
		revoked[0]["subject"] == "" || revoked[0]["sid"] == "" {
		t.Errorf("audit lines of log out everywhere %v, want one sessions_revoked with subject, sid and sessions_ended 2", revoked)
	}
	for _, c := range []struct {
		name   string
		p      *proxy
		cookie string
	}{{"this browser here", p, c1}, {"this browser there", q, c1}, {"other browser here", p, c2}, {"other browser there", q, c2}} {
		if alive(c.p, c.cookie) {
			t.Errorf("%s: session alive after logout everywhere", c.name)
		}
	}
	if !alive(p, other) || !alive(q, other) {
		t.Errorf("another user's session ended")
	}
	// No session any more: the cookie is cleared, nothing else happens.
	if resp := post(newBrowser(t), map[string]string{"Origin": p.url}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("without a session: %d, want 303", resp.StatusCode)
	}
}
