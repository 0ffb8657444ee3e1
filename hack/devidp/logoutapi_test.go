package devidp

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
)

// TestLogoutAPIRevokesRefreshToken: POST /api/logout, with no API key,
// revokes the refresh token it names (the body's, or the query's), or with
// global every token of its user; a later refresh is invalid_grant
// refresh_token_not_found, and the jwt.refresh-token.revoke event of that
// shape is sent. A token it does not hold is 200 and changes nothing.
func TestLogoutAPIRevokesRefreshToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       func(rt string) string
		query      func(rt string) url.Values
		wantGone   []bool // per token: revoked (the request names the first)
		wantEvents int
		wantUser   bool // the user-wide event shape (no applicationId, no refreshToken)
	}{
		{name: "one token", body: func(rt string) string { return `{"refreshToken":"` + rt + `","global":false}` },
			wantGone: []bool{true, false}, wantEvents: 1},
		{name: "query", query: func(rt string) url.Values { return url.Values{"refreshToken": {rt}} },
			wantGone: []bool{true, false}, wantEvents: 1},
		{name: "global", body: func(rt string) string { return `{"refreshToken":"` + rt + `","global":true}` },
			wantGone: []bool{true, true}, wantEvents: 1, wantUser: true},
		{name: "unknown token", body: func(string) string { return `{"refreshToken":"nope"}` },
			wantGone: []bool{false, false}},
		{name: "no token", body: func(string) string { return `{}` }, wantGone: []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, rc := startWithWebhook(t, 0)
			toks := []map[string]any{f.tokens("customer@example.com", "customer-pass"), f.tokens("customer@example.com", "customer-pass")}
			rt := toks[0]["refresh_token"].(string)
			target := f.ts.URL + "/api/logout"
			if tt.query != nil {
				target += "?" + tt.query(rt).Encode()
			}
			var body []byte
			if tt.body != nil {
				body = []byte(tt.body(rt))
			}
			req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if res := do(t, f.http, req); res.status != http.StatusOK {
				t.Fatalf("POST /api/logout: status %d, want 200", res.status)
			}
			for i, tok := range toks {
				res := f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true)
				gone := res.status == http.StatusBadRequest && decode(t, res.body)["error_reason"] == "refresh_token_not_found"
				if gone != tt.wantGone[i] || (!gone && res.status != http.StatusOK) {
					t.Errorf("token %d: refresh status %d, body %s; want revoked %v", i, res.status, res.body, tt.wantGone[i])
				}
			}
			_, events := rc.got()
			if len(events) != tt.wantEvents {
				t.Fatalf("%d events, want %d", len(events), tt.wantEvents)
			}
			if tt.wantEvents == 0 {
				return
			}
			e := events[0]
			checkEvent(t, e, EventRefreshTokenRevoke)
			userWide := e["applicationId"] == nil && e["refreshToken"] == nil
			// FusionAuth's RefreshToken object: the revoked token is its "token".
			revoked, _ := e["refreshToken"].(map[string]any)
			if e["userId"] != toks[0]["userId"] || userWide != tt.wantUser || (!tt.wantUser && revoked["token"] != rt) {
				t.Errorf("event %v; want userId %v, user-wide %v", e, toks[0]["userId"], tt.wantUser)
			}
		})
	}
}
