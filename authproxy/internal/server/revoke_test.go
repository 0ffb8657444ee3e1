package server

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestLogoutRevokesRefreshToken: with a provider that announces a
// revocation_endpoint, logout posts the session's refresh token there; when
// the provider fails, the logout still succeeds locally (303, session gone)
// and the failure is counted. Without an endpoint nothing is sent and the
// logout counts as unsupported.
func TestLogoutRevokesRefreshToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		noEndpoint bool
		status     int
		outcome    string
		wantCalls  int
	}{
		{name: "revoked", status: http.StatusOK, outcome: "revoked", wantCalls: 1},
		{name: "provider fails", status: http.StatusServiceUnavailable, outcome: "failed", wantCalls: 1},
		{name: "no revocation_endpoint", noEndpoint: true, outcome: "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var tokens []string
			rev := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				mu.Lock()
				tokens = append(tokens, r.PostForm.Get("token"))
				mu.Unlock()
				w.WriteHeader(tt.status)
			}))
			t.Cleanup(rev.Close)
			_, ps := newEnv(t, envOpts{discovery: func(doc map[string]any) {
				if !tt.noEndpoint {
					doc["revocation_endpoint"] = rev.URL + "/revoke"
				}
			}})
			p := ps[0]
			cookie, b := loggedIn(t, p, "customer@example.com")
			rt := loadSession(t, p, cookie).RefreshToken
			req, _ := http.NewRequest(http.MethodPost, p.url+"/oauth2/logout", nil)
			req.Header.Set("Origin", p.url)
			if resp, body := b.do(req); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout: %d %s, want 303", resp.StatusCode, body)
			}
			if r, _ := (fwd{uri: "/account/me", cookie: cookie, accept: jsonAccept}).send(t, p, dialectForwarded); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("session alive after logout: %d", r.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(tokens) != tt.wantCalls || (tt.wantCalls > 0 && tokens[0] != rt) {
				t.Errorf("revocation requests %d (token matches: %v), want %d with the session's refresh token", len(tokens), len(tokens) > 0 && tokens[0] == rt, tt.wantCalls)
			}
			if got := idpRevokes(t, p.srv.metrics, tt.outcome); got != 1 {
				t.Errorf("idp_token_revocations_total{outcome=%q} = %v, want 1", tt.outcome, got)
			}
		})
	}
}

// idpRevokes reads authproxy_idp_token_revocations_total{outcome}.
func idpRevokes(t *testing.T, m *metrics, outcome string) float64 {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "authproxy_idp_token_revocations_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			if mt.GetLabel()[0].GetValue() == outcome {
				return mt.GetCounter().GetValue()
			}
		}
	}
	return 0
}
