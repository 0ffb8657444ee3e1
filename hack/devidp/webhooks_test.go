package devidp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// receiver is a webhook endpoint that checks FusionAuth's signature with
// the IdP's key and records the events; it fails the first failures
// deliveries with 500.
type receiver struct {
	t        *testing.T
	srv      *Server
	mu       sync.Mutex
	failures int
	attempts int
	events   []map[string]any
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Error(err)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if rc.failures > 0 {
		rc.failures--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		rc.t.Errorf("Content-Type %q", ct)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(r.Header.Get(WebhookSignatureHeader), claims, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != rc.srv.KeyID() {
			rc.t.Errorf("signature kid %v, want %s", t.Header["kid"], rc.srv.KeyID())
		}
		return rc.srv.PublicKey(), nil
	}, jwt.WithValidMethods([]string{"RS256"}))
	if err != nil || !tok.Valid {
		rc.t.Errorf("signature: %v", err)
	}
	sum := sha256.Sum256(body)
	if claims["request_body_sha256"] != base64.StdEncoding.EncodeToString(sum[:]) {
		rc.t.Errorf("request_body_sha256 %v does not match the body", claims["request_body_sha256"])
	}
	var env struct {
		Event map[string]any `json:"event"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		rc.t.Error(err)
	}
	rc.events = append(rc.events, env.Event)
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) got() (attempts int, events []map[string]any) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.attempts, append([]map[string]any(nil), rc.events...)
}

const testAPIKey = "dev-api-key"

func startWithWebhook(t *testing.T, failures int) (*fixture, *receiver) {
	t.Helper()
	rc := &receiver{t: t, failures: failures}
	// A plain http.Server: httptest.Server.Close would close the idle
	// connections of http.DefaultTransport, under the parallel tests' feet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hook := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hook.Serve(ln) }()
	t.Cleanup(func() { _ = hook.Close() })
	f := start(t, func(c *Config) {
		c.WebhookURL, c.APIKey = "http://"+ln.Addr().String()+"/webhooks/fusionauth", testAPIKey
	})
	rc.srv = f.srv
	return f, rc
}

func (f *fixture) admin(path, key string) int {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodDelete, f.ts.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", key)
	return do(f.t, f.http, req).status
}

func checkEvent(t *testing.T, e map[string]any, typ string) {
	t.Helper()
	if e["type"] != typ || e["tenantId"] != DefaultTenantID || e["id"] == "" || e["createInstant"] == nil {
		t.Fatalf("event %v, want type %s with id, tenantId, createInstant", e, typ)
	}
}

func TestRevokeEmitsWebhookAndKillsRefreshTokens(t *testing.T) {
	t.Parallel()
	f, rc := startWithWebhook(t, 2) // two failed deliveries, then success: FusionAuth's retries
	tok := f.tokens("customer@example.com", "customer-pass")
	userID := tok["userId"].(string)
	if st := f.admin("/api/jwt/refresh?userId="+url.QueryEscape(userID), "wrong"); st != http.StatusUnauthorized {
		t.Fatalf("admin API with a wrong key: status %d, want 401", st)
	}
	if st := f.admin("/api/jwt/refresh?userId="+url.QueryEscape(userID), testAPIKey); st != http.StatusOK {
		t.Fatalf("DELETE /api/jwt/refresh: status %d", st)
	}
	attempts, events := rc.got()
	if attempts != 3 || len(events) != 1 {
		t.Fatalf("%d attempts, %d events; want 3 attempts (2 failed) and 1 event", attempts, len(events))
	}
	checkEvent(t, events[0], EventRefreshTokenRevoke)
	if events[0]["userId"] != userID || events[0]["applicationId"] != nil {
		t.Fatalf("revoke event %v: want userId %s and no applicationId", events[0], userID)
	}
	res := f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true)
	if res.status != http.StatusBadRequest {
		t.Fatalf("revoked refresh token: status %d, want 400", res.status)
	}
}

func TestDeactivateOrDeleteEmitsWebhookAndRefusesLogin(t *testing.T) {
	t.Parallel()
	for query, typ := range map[string]string{"": EventUserDeactivate, "?hardDelete=true": EventUserDelete} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			disableUser(t, query, typ)
		})
	}
}

func disableUser(t *testing.T, query, typ string) {
	f, rc := startWithWebhook(t, 0)
	tok := f.tokens("customer@example.com", "customer-pass")
	userID := tok["userId"].(string)
	if st := f.admin("/api/user/"+userID+query, testAPIKey); st != http.StatusOK {
		t.Fatalf("DELETE /api/user: status %d", st)
	}
	if st := f.admin("/api/user/00000000-0000-4000-8000-000000000000"+query, testAPIKey); st != http.StatusNotFound {
		t.Fatalf("DELETE /api/user for an unknown user: status %d, want 404", st)
	}
	_, events := rc.got()
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	checkEvent(t, events[0], typ)
	if u, _ := events[0]["user"].(map[string]any); u["id"] != userID || u["active"] != false {
		t.Fatalf("%s event user %v, want id %s, active false", typ, events[0]["user"], userID)
	}
	res := f.post(f.http, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, true)
	if res.status != http.StatusBadRequest {
		t.Fatalf("deactivated user's refresh token: status %d, want 400", res.status)
	}
	_, challenge := pkce()
	form := authzParams(challenge)
	form.Set("loginId", "customer@example.com")
	form.Set("password", "customer-pass")
	if res := f.post(browser(t), "/oauth2/authorize", form, false); res.status == http.StatusFound {
		t.Fatal("a deactivated user logged in")
	}
}

func TestWebhookGivesUpAfterThreeRetries(t *testing.T) {
	t.Parallel()
	f, rc := startWithWebhook(t, 100)
	tok := f.tokens("customer@example.com", "customer-pass")
	if _, err := f.srv.RevokeUserTokens(t.Context(), tok["userId"].(string)); err == nil {
		t.Fatal("RevokeUserTokens reported success with every delivery failing")
	}
	if attempts, _ := rc.got(); attempts != 4 {
		t.Fatalf("%d attempts, want 4 (one and three retries)", attempts)
	}
}

func TestAdminAPIOffWithoutKey(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	if st := f.admin("/api/jwt/refresh?userId=x", ""); st != http.StatusMethodNotAllowed && st != http.StatusNotFound {
		t.Fatalf("admin API without a configured key: status %d, want it not served", st)
	}
}
