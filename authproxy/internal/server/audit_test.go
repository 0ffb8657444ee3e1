package server

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/authproxy/internal/audit"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// auditLines returns the audit lines in logs (log == "audit"), each without
// its time and request id.
func auditLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		if m[audit.KeyLog] != audit.Value {
			continue
		}
		delete(m, "time")
		delete(m, "request_id")
		out = append(out, m)
	}
	return out
}

// TestAuditStream: a login, a logout and a forwarded request from an
// untrusted peer each write one audit line with the documented fields, and
// no audit line holds the session cookie.
func TestAuditStream(t *testing.T) {
	t.Parallel()
	e, ps := newEnv(t, envOpts{})
	p := ps[0]
	cookie, b := loggedIn(t, p, "customer@example.com")
	subject := loadSession(t, p, cookie).UserID
	sid := session.SID(cookie)

	req, _ := http.NewRequest(http.MethodPost, p.url+"/oauth2/logout", nil)
	req.Header.Set("Origin", p.url)
	if resp, body := b.do(req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}

	// 127.0.0.2 is loopback but outside the trusted 127.0.0.1/32.
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second,
	}).DialContext}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Do(fwd{uri: "/products"}.request(t, p, dialectNginx))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("untrusted peer: %d", resp.StatusCode)
	}

	want := []map[string]any{
		{"level": "INFO", "msg": "audit", "log": "audit", "event": "login", "subject": subject, "sid": sid},
		{"level": "INFO", "msg": "audit", "log": "audit", "event": "logout", "subject": subject, "sid": sid, "result": "ok"},
		{"level": "INFO", "msg": "audit", "log": "audit", "event": "untrusted_peer", "peer": "127.0.0.2", "dialect": dialectNginx},
	}
	testkit.WaitFor(t, "three audit lines", func() bool { return len(auditLines(t, e.logs.String())) >= len(want) })
	logs := e.logs.String()
	if d := cmp.Diff(want, auditLines(t, logs)); d != "" {
		t.Errorf("audit lines (-want +got):\n%s", d)
	}
	if subject == "" || sid == "" {
		t.Fatalf("subject %q, sid %q: the test compares empty values", subject, sid)
	}
	id, _, err := session.SplitCookie(cookie)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range auditLines(t, logs) {
		line, _ := json.Marshal(m)
		if strings.Contains(string(line), cookie) || strings.Contains(string(line), id) {
			t.Errorf("audit line holds the session cookie: %s", line)
		}
	}
}
