package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/links"
	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
)

// tokens holds the refresh-token links of sessions ("rt-a" of u1, and
// "rt-gone" of u1 whose session already ended); EndLinked records the
// tokens whose session it ended.
type tokens struct {
	mu    sync.Mutex
	down  bool
	ended []string
}

func (k *tokens) EndLinked(_ context.Context, kind links.Kind, value, user string) (links.Outcome, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.down {
		return links.Outcome{}, errDown
	}
	if kind != links.RefreshToken || user != "u1" {
		return links.Outcome{}, nil
	}
	switch value {
	case "rt-a":
		k.ended = append(k.ended, value)
		return links.Outcome{Linked: true, Ended: true}, nil
	case "rt-gone":
		return links.Outcome{Linked: true}, nil
	}
	return links.Outcome{}, nil
}

// revoker records the session ids recorded as revoked.
type revoker struct {
	mu   sync.Mutex
	down bool
	sids []string
}

func (r *revoker) RevokeSIDs(_ context.Context, sids ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errDown
	}
	r.sids = append(r.sids, sids...)
	return nil
}

// refreshToken is FusionAuth's RefreshToken object as a
// jwt.refresh-token.revoke carries it.
func refreshToken(id, token, user string) map[string]any {
	return map[string]any{
		"id": id, "token": token, "applicationId": clientID, "userId": user, "tenantId": "t-1",
		"insertInstant": 1700000000000, "startInstant": 1700000000000,
		"metaData": map[string]any{"device": map[string]any{"type": "BROWSER"}, "scopes": []string{"offline_access"}},
	}
}

// application counts application-wide cutoffs, each at the clock's time.
type application struct {
	n   atomic.Int32
	bad atomic.Int32 // cutoffs at another time
}

func (a *application) Set(_ context.Context, t time.Time) error {
	a.n.Add(1)
	if !t.Equal(clock()) {
		a.bad.Add(1)
	}
	return nil
}

// refresher counts key refetches; fail makes them fail.
type refresher struct {
	n    atomic.Int32
	fail bool
}

func (r *refresher) RefreshKeys(context.Context) error {
	if r.fail {
		return errors.New("jwks unreachable")
	}
	r.n.Add(1)
	return nil
}

func registration(app string, roles ...string) map[string]any {
	return map[string]any{"applicationId": app, "roles": roles}
}

// TestRegistrationAndKeyEvents: a single-token revoke (FusionAuth's
// RefreshToken object) records the token's id as revoked and ends only the
// session holding the token (nothing more when that session already
// ended; all of the user's sessions when no link names one of theirs);
// a registration change for this application
// that removes a role, or its deletion, ends the user's sessions; one that
// only adds roles, or one for another application, changes nothing; a
// public-key update naming this application refetches the keys (503 when
// that fails, so FusionAuth retries), one for others does not.
func TestRegistrationAndKeyEvents(t *testing.T) {
	t.Parallel()
	user := map[string]any{"id": "u1"}
	tests := []struct {
		name         string
		body         []byte
		noRefresher  bool
		refreshFails bool
		noTokens     bool
		noApp        bool
		wantApp      int32
		tokensDown   bool
		revokerDown  bool
		wantSIDs     []string
		wantTokens   []string
		handled      bool // acted on (marked) though nothing ended
		want         int
		wantUser     []string
		wantRefresh  int32
	}{
		{name: "role removed", body: event("r1", webhook.TypeRegistrationUpdate, map[string]any{
			"applicationId": clientID, "user": user,
			"original": registration(clientID, "admin", "viewer"), "registration": registration(clientID, "viewer"),
		}), want: 204, wantUser: []string{"u1"}},
		{name: "all roles removed", body: event("r2", webhook.TypeRegistrationUpdate, map[string]any{
			"applicationId": clientID, "user": user,
			"original": registration(clientID, "viewer"), "registration": map[string]any{"applicationId": clientID},
		}), want: 204, wantUser: []string{"u1"}},
		{name: "role added only", body: event("r3", webhook.TypeRegistrationUpdate, map[string]any{
			"applicationId": clientID, "user": user,
			"original": registration(clientID, "viewer"), "registration": registration(clientID, "viewer", "admin"),
		}), want: 204},
		{name: "no original", body: event("r4", webhook.TypeRegistrationUpdate, map[string]any{
			"applicationId": clientID, "user": user, "registration": registration(clientID, "viewer"),
		}), want: 204, wantUser: []string{"u1"}},
		{name: "application from the registration", body: event("r5", webhook.TypeRegistrationUpdate, map[string]any{
			"user": user, "original": registration(clientID, "admin"), "registration": registration(clientID),
		}), want: 204, wantUser: []string{"u1"}},
		{name: "role removed at another application", body: event("r6", webhook.TypeRegistrationUpdate, map[string]any{
			"applicationId": "app-2", "user": user,
			"original": registration("app-2", "admin"), "registration": registration("app-2"),
		}), want: 204},
		{name: "role removed, no user", body: event("r7", webhook.TypeRegistrationUpdate, map[string]any{
			"applicationId": clientID, "original": registration(clientID, "admin"), "registration": registration(clientID),
		}), want: 204},
		{name: "registration deleted", body: event("r8", webhook.TypeRegistrationDelete, map[string]any{
			"applicationId": clientID, "user": user, "registration": registration(clientID, "viewer"),
		}), want: 204, wantUser: []string{"u1"}},
		{name: "registration deleted at another application", body: event("r9", webhook.TypeRegistrationDelete, map[string]any{
			"applicationId": "app-2", "user": user, "registration": registration("app-2", "viewer"),
		}), want: 204},
		{name: "one token revoked", body: event("t1", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID, "userId": "u1", "refreshToken": refreshToken("rtid-a", "rt-a", "u1"), "linkedObjectId": "rtid-a",
		}), want: 204, wantTokens: []string{"rt-a"}, wantSIDs: []string{"rtid-a"}},
		{name: "one token no link names ends the user's sessions", body: event("t2", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID, "userId": "u1", "refreshToken": refreshToken("rtid-z", "rt-z", "u1"),
		}), want: 204, wantUser: []string{"u1"}, wantSIDs: []string{"rtid-z"}},
		{name: "one token whose linked session already ended", body: event("t2b", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID, "userId": "u1", "refreshToken": refreshToken("rtid-g", "rt-gone", "u1"),
		}), want: 204, handled: true, wantSIDs: []string{"rtid-g"}},
		{name: "one token linked to another user's session", body: event("t3", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID, "userId": "u2", "refreshToken": refreshToken("rtid-a", "rt-a", "u2"),
		}), want: 204, wantUser: []string{"u2"}, wantSIDs: []string{"rtid-a"}},
		{name: "one token by linkedObjectId only", body: event("t3b", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID, "userId": "u1", "linkedObjectId": "rtid-l",
		}), want: 204, wantUser: []string{"u1"}, wantSIDs: []string{"rtid-l"}},
		{name: "one token of another application", body: event("t4", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": "app-2", "userId": "u1", "refreshToken": refreshToken("rtid-a", "rt-a", "u1"),
		}), want: 204},
		{name: "one token, store down", tokensDown: true, body: event("t5", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID, "userId": "u1", "refreshToken": refreshToken("rtid-a", "rt-a", "u1"),
		}), want: 503, wantSIDs: []string{"rtid-a"}},
		{name: "one token, revocation store down", revokerDown: true, body: event("t5b", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID, "userId": "u1", "refreshToken": refreshToken("rtid-a", "rt-a", "u1"),
		}), want: 503},
		{name: "one token as a string (not FusionAuth's shape) is malformed", body: event("t5c", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID, "userId": "u1", "refreshToken": "rt-a",
		}), want: 400},
		{name: "one token without links ends the user's sessions", noTokens: true, body: event("t6", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID, "userId": "u1", "refreshToken": refreshToken("rtid-a", "rt-a", "u1"),
		}), want: 204, wantUser: []string{"u1"}, wantSIDs: []string{"rtid-a"}},
		{name: "all of a user's tokens end all sessions", body: event("t7", webhook.TypeRefreshTokenRevoke, map[string]any{
			"userId": "u1",
		}), want: 204, wantUser: []string{"u1"}},
		{name: "all of this application's tokens", body: event("a1", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID,
		}), want: 204, wantApp: 1},
		{name: "all of another application's tokens", body: event("a2", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": "app-2",
		}), want: 204},
		{name: "all of this application's tokens, not configured", noApp: true, body: event("a3", webhook.TypeRefreshTokenRevoke, map[string]any{
			"applicationId": clientID,
		}), want: 204},
		{name: "revoke naming nothing", body: event("a4", webhook.TypeRefreshTokenRevoke, nil), want: 204},
		{name: "public key update for this application", body: event("k1", webhook.TypePublicKeyUpdate, map[string]any{
			"applicationIds": []string{"app-2", clientID},
		}), want: 204, wantRefresh: 1},
		{name: "public key update for others", body: event("k2", webhook.TypePublicKeyUpdate, map[string]any{
			"applicationIds": []string{"app-2"},
		}), want: 204},
		{name: "public key update, refetch fails", refreshFails: true, body: event("k3", webhook.TypePublicKeyUpdate, map[string]any{
			"applicationIds": []string{clientID},
		}), want: 503},
		{name: "public key update without a refresher", noRefresher: true, body: event("k4", webhook.TypePublicKeyUpdate, map[string]any{
			"applicationIds": []string{clientID},
		}), want: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &store{marks: map[string]bool{}}
			ref := &refresher{fail: tt.refreshFails}
			toks := &tokens{down: tt.tokensDown}
			app := &application{}
			rv := &revoker{down: tt.revokerDown}
			cfg := webhook.Config{Sessions: st, Marks: st, Keys: keys{}, Refresher: ref, Tokens: toks, Revoker: rv, Application: app, ClientID: clientID, Now: clock}
			if tt.noApp {
				cfg.Application = nil
			}
			if tt.noRefresher {
				cfg.Refresher = nil
			}
			if tt.noTokens {
				cfg.Tokens = nil
			}
			h, err := webhook.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if w := post(t, h, tt.body); w.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			if got := ref.n.Load(); got != tt.wantRefresh {
				t.Fatalf("key refetches %d, want %d", got, tt.wantRefresh)
			}
			if !slices.Equal(st.deleted, tt.wantUser) {
				t.Fatalf("deleted users %v, want %v", st.deleted, tt.wantUser)
			}
			if !slices.Equal(toks.ended, tt.wantTokens) {
				t.Fatalf("ended token sessions %v, want %v", toks.ended, tt.wantTokens)
			}
			if !slices.Equal(rv.sids, tt.wantSIDs) {
				t.Fatalf("revoked sids %v, want %v", rv.sids, tt.wantSIDs)
			}
			if got := app.n.Load(); got != tt.wantApp || app.bad.Load() != 0 {
				t.Fatalf("application-wide cutoffs %d (%d not at the event's handling time), want %d", got, app.bad.Load(), tt.wantApp)
			}
			acted := len(tt.wantUser) > 0 || tt.wantRefresh > 0 || len(tt.wantTokens) > 0 || tt.wantApp > 0
			acted = acted || tt.handled
			if id := eventID(tt.body); st.marks[id] != acted {
				t.Fatalf("event %q marked %v, want %v", id, st.marks[id], acted)
			}
		})
	}
}

// post delivers body to h as FusionAuth does (signed JSON).
func post(t *testing.T, h http.Handler, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, webhook.Path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(webhook.SignatureHeader, sign(t, body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
