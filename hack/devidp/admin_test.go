package devidp

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestRevokeOneToken: DELETE /api/jwt/refresh?token= revokes that token
// only and sends FusionAuth's one-token event (applicationId, userId,
// refreshToken as FusionAuth's RefreshToken object with the token and its
// id, linkedObjectId = the access token's sid); an unknown token
// is 404 and sends nothing.
func TestRevokeOneToken(t *testing.T) {
	t.Parallel()
	f, rc := startWithWebhook(t, 0)
	one := f.tokens("customer@example.com", "customer-pass")
	two := f.tokens("customer@example.com", "customer-pass")
	rt := one["refresh_token"].(string)
	_, claims := f.verify(one["access_token"].(string))
	if st := f.admin("/api/jwt/refresh?token="+url.QueryEscape(rt), "wrong"); st != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d, want 401", st)
	}
	if st := f.admin("/api/jwt/refresh?token="+url.QueryEscape(rt), testAPIKey); st != http.StatusOK {
		t.Fatalf("DELETE /api/jwt/refresh?token=: %d", st)
	}
	if st := f.admin("/api/jwt/refresh?token="+url.QueryEscape(rt), testAPIKey); st != http.StatusNotFound {
		t.Fatalf("again: %d, want 404", st)
	}
	e := onlyEvent(t, rc, EventRefreshTokenRevoke)
	if e["applicationId"] != f.srv.ClientID() || e["userId"] != one["userId"] || e["linkedObjectId"] != claims["sid"] {
		t.Fatalf("event %v: want applicationId, userId and the token's id (sid %v)", e, claims["sid"])
	}
	obj, ok := e["refreshToken"].(map[string]any)
	if !ok || obj["token"] != rt || obj["id"] != claims["sid"] || obj["userId"] != one["userId"] || obj["applicationId"] != f.srv.ClientID() {
		t.Fatalf("refreshToken %v: want FusionAuth's RefreshToken object (token, id = sid %v, userId, applicationId)", e["refreshToken"], claims["sid"])
	}
	if _, ok := obj["insertInstant"].(float64); !ok {
		t.Errorf("refreshToken.insertInstant %v: want milliseconds", obj["insertInstant"])
	}
	refresh := func(tok string) int {
		return f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}, true).status
	}
	if st := refresh(rt); st != http.StatusBadRequest {
		t.Errorf("revoked token refreshed: %d", st)
	}
	if st := refresh(two["refresh_token"].(string)); st != http.StatusOK {
		t.Errorf("the other token: %d, want 200", st)
	}
}

// TestSetRoles: PUT /api/user/registration/{id} changes the roles the next
// tokens carry and sends user.registration.update with the roles before
// and after; another application's registration is refused.
func TestSetRoles(t *testing.T) {
	t.Parallel()
	f, rc := startWithWebhook(t, 0)
	tok := f.tokens("admin@example.com", "admin-pass")
	userID := tok["userId"].(string)
	_, before := f.verify(tok["access_token"].(string))
	put := func(body, key string) int {
		req, err := http.NewRequest(http.MethodPut, f.ts.URL+"/api/user/registration/"+userID, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", key)
		req.Header.Set("Content-Type", "application/json")
		return do(t, f.http, req).status
	}
	body := `{"registration":{"applicationId":"` + f.srv.ClientID() + `","roles":["customer"]}}`
	if st := put(body, "wrong"); st != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d, want 401", st)
	}
	if st := put(`{"registration":{"applicationId":"other","roles":[]}}`, testAPIKey); st != http.StatusBadRequest {
		t.Fatalf("another application: %d, want 400", st)
	}
	if st := put(body, testAPIKey); st != http.StatusOK {
		t.Fatalf("PUT: %d", st)
	}
	e := onlyEvent(t, rc, EventRegistrationUpdate)
	roles := func(reg any) []string {
		var out []string
		m, _ := reg.(map[string]any)
		rs, _ := m["roles"].([]any)
		for _, r := range rs {
			out = append(out, r.(string))
		}
		return out
	}
	var wantBefore []string
	for _, r := range before["roles"].([]any) {
		wantBefore = append(wantBefore, r.(string))
	}
	if e["applicationId"] != f.srv.ClientID() || !slices.Equal(roles(e["original"]), wantBefore) || !slices.Equal(roles(e["registration"]), []string{"customer"}) {
		t.Fatalf("event %v: want original roles %v and registration roles [customer]", e, wantBefore)
	}
	after := f.tokens("admin@example.com", "admin-pass")
	_, claims := f.verify(after["access_token"].(string))
	if got := claims["roles"]; len(got.([]any)) != 1 || got.([]any)[0] != "customer" {
		t.Errorf("roles after the change: %v, want [customer]", got)
	}
}

// onlyEvent is the one event rc received, checked to be of type typ.
func onlyEvent(t *testing.T, rc *receiver, typ string) map[string]any {
	t.Helper()
	_, events := rc.got()
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	checkEvent(t, events[0], typ)
	return events[0]
}

// TestRevokeApplicationTokens: DELETE /api/jwt/refresh?applicationId=
// revokes every token of the application and sends the application-wide
// event (applicationId, no userId); another application is 404.
func TestRevokeApplicationTokens(t *testing.T) {
	t.Parallel()
	f, rc := startWithWebhook(t, 0)
	a := f.tokens("customer@example.com", "customer-pass")
	b := f.tokens("admin@example.com", "admin-pass")
	if st := f.admin("/api/jwt/refresh?applicationId=other", testAPIKey); st != http.StatusNotFound {
		t.Fatalf("another application: %d, want 404", st)
	}
	if st := f.admin("/api/jwt/refresh?applicationId="+url.QueryEscape(f.srv.ClientID()), testAPIKey); st != http.StatusOK {
		t.Fatalf("DELETE: %d", st)
	}
	e := onlyEvent(t, rc, EventRefreshTokenRevoke)
	if e["applicationId"] != f.srv.ClientID() || e["userId"] != nil {
		t.Fatalf("event %v: want applicationId and no userId", e)
	}
	for _, tok := range []map[string]any{a, b} {
		if st := f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true).status; st != http.StatusBadRequest {
			t.Errorf("revoked token refreshed: %d", st)
		}
	}
}
