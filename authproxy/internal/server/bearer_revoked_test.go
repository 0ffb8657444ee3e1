package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// TestBearerAccessTokenRevoked (review of issue 10, finding 1): authproxy
// checks a bearer access token against its own copy of the revocations, so
// a revoked one (its sid, its subject up to its iat, or the application-wide
// cutoff) is refused with 401 and cannot be swapped for a fresh gateway
// token; one issued after a subject's revocation or the cutoff passes.
func TestBearerAccessTokenRevoked(t *testing.T) {
	t.Parallel()
	src := &memRevocations{}
	_, ps := newEnv(t, envOpts{revocations: src})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	access := loadSession(t, p, cookie).AccessToken
	sid := session.AccessTokenSID(access)
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(access, &claims); err != nil || claims.IssuedAt == nil || sid == "" {
		t.Fatalf("access token: %v (iat %v, sid %q), want iat and sid", err, claims.IssuedAt, sid)
	}
	iat := claims.IssuedAt.Unix()

	tests := []struct {
		name   string
		revs   session.Revocations
		uri    string
		status int
		user   string // X-Auth-Request-User on 200
	}{
		{name: "nothing revoked", revs: session.Revocations{Version: "e.1"}, uri: "/admin/x", status: http.StatusOK, user: adminID},
		{name: "session revoked", revs: session.Revocations{Version: "e.2", Sessions: []string{sid}}, uri: "/admin/x", status: http.StatusUnauthorized},
		{name: "session revoked, gateway token rule", revs: session.Revocations{Version: "e.3", Sessions: []string{sid}}, uri: "/account/me", status: http.StatusUnauthorized},
		{name: "subject revoked after issue", revs: session.Revocations{Version: "e.4", Subjects: map[string]int64{adminID: iat}}, uri: "/admin/x", status: http.StatusUnauthorized},
		{name: "subject revoked before issue", revs: session.Revocations{Version: "e.5", Subjects: map[string]int64{adminID: iat - 1}}, uri: "/admin/x", status: http.StatusOK, user: adminID},
		{name: "application-wide cutoff after issue", revs: session.Revocations{Version: "e.7", Cutoff: iat}, uri: "/admin/x", status: http.StatusUnauthorized},
		{name: "application-wide cutoff before issue", revs: session.Revocations{Version: "e.8", Cutoff: iat - 1}, uri: "/admin/x", status: http.StatusOK, user: adminID},
		{name: "other session and subject", revs: session.Revocations{Version: "e.6", Sessions: []string{"other"}, Subjects: map[string]int64{"other": iat}}, uri: "/admin/x", status: http.StatusOK, user: adminID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share the revocation store.
			src.set(tt.revs, false)
			if err := p.srv.revoked.Poll(t.Context()); err != nil {
				t.Fatalf("poll: %v", err)
			}
			resp, body := fwd{uri: tt.uri, bearer: access, accept: jsonAccept}.send(t, p, dialectForwarded)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == http.StatusOK {
				if got := resp.Header.Get(HeaderUser); got != tt.user {
					t.Errorf("%s = %q, want %q", HeaderUser, got, tt.user)
				}
			}
			if tt.status == http.StatusUnauthorized && resp.Header.Get("Authorization") != "" {
				t.Error("a revoked access token was answered with a gateway token")
			}
		})
	}
}

// TestBearerRevocationsStale: while authproxy's copy of the revocations is
// stale (here never read: the store does not answer), session rules refuse
// every bearer access token with 503 (fail safe, as the services) and
// public rules still pass, as anonymous.
func TestBearerRevocationsStale(t *testing.T) {
	t.Parallel()
	src := &memRevocations{down: true}
	_, ps := newEnv(t, envOpts{revocations: src})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	access := loadSession(t, p, cookie).AccessToken
	if err := p.srv.revoked.Poll(t.Context()); err == nil {
		t.Fatal("poll of a store that does not answer succeeded")
	}
	tests := []struct {
		name   string
		uri    string
		status int
	}{
		{name: "session rule", uri: "/admin/x", status: http.StatusServiceUnavailable},
		{name: "public rule", uri: "/products/1", status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := fwd{uri: tt.uri, bearer: access, accept: jsonAccept}.send(t, p, dialectForwarded)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get(HeaderUser); got != "" {
				t.Errorf("%s = %q, want anonymous", HeaderUser, got)
			}
		})
	}
}

// TestBearerGatewayTokenOrigIat (issue 10, the bearer gap): a gateway
// token minted from a bearer access token carries the access token's iat
// as orig_iat, so that a user-wide revocation or the application-wide
// cutoff that authproxy's copy of the revocations has not caught up with
// yet still reaches it at the services. authproxy's clock runs 10 s ahead
// (within jwtauth's 30 s leeway) so that the gateway token's own iat is
// later than the revocation.
func TestBearerGatewayTokenOrigIat(t *testing.T) {
	t.Parallel()
	src := &memRevocations{}
	src.set(session.Revocations{Version: "e.1"}, false)
	_, ps := newEnv(t, envOpts{revocations: src, now: func() time.Time { return time.Now().Add(10 * time.Second) }})
	p := ps[0]
	if err := p.srv.revoked.Poll(t.Context()); err != nil {
		t.Fatalf("poll: %v", err)
	}
	cookie, _ := loggedIn(t, p, "admin@example.com")
	access := loadSession(t, p, cookie).AccessToken
	var ac jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(access, &ac); err != nil || ac.IssuedAt == nil {
		t.Fatalf("access token: %v (iat %v), want iat", err, ac.IssuedAt)
	}
	iat := ac.IssuedAt.Unix()
	resp, body := fwd{uri: "/account/me", bearer: access, accept: jsonAccept}.send(t, p, dialectForwarded)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", resp.StatusCode, body)
	}
	gw := bearerOf(t, resp)
	gc := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(gw, gc); err != nil {
		t.Fatal(err)
	}
	if orig, _ := gc["orig_iat"].(float64); int64(orig) != iat || gc["iat"].(float64) <= orig {
		t.Fatalf("gateway token iat %v, orig_iat %v; want orig_iat %d and a later iat", gc["iat"], gc["orig_iat"], iat)
	}
	subjects := func(iatMax int64) string {
		return `[{"sub":"` + adminID + `","iat_max":` + strconv.FormatInt(iatMax, 10) + `}]`
	}
	for _, tt := range []struct {
		name, feed string
		want       error
	}{
		{name: "nothing revoked", feed: `{"version":"f","sessions":[],"subjects":[]}`},
		{name: "subject revoked at the access token's iat", feed: `{"version":"f","sessions":[],"subjects":` + subjects(iat) + `}`, want: jwtauth.ErrRevoked},
		{name: "subject revoked before it", feed: `{"version":"f","sessions":[],"subjects":` + subjects(iat-1) + `}`},
		{name: "cutoff at the access token's iat", feed: `{"version":"f","sessions":[],"subjects":[],"cutoff":` + strconv.FormatInt(iat, 10) + `}`, want: jwtauth.ErrRevoked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(tt.feed))
			}))
			t.Cleanup(feed.Close)
			v := gatewayVerifierConfig(t, jwtauth.Config{
				Issuers:  []jwtauth.IssuerConfig{{Issuer: p.url, JWKSURL: p.url + "/.well-known/jwks.json"}},
				Audience: audience(t, gw), Revocations: &jwtauth.RevocationConfig{URL: feed.URL, Interval: time.Second},
			})
			_, err := v.Verify(t.Context(), gw)
			if tt.want == nil && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// staleCache is a session cache that missed every invalidation: once a
// cookie loaded, it serves that session whatever happens to the store.
type staleCache struct {
	session.Store
	mu   sync.Mutex
	kept map[string]*session.Session
}

func (c *staleCache) Load(ctx context.Context, cookie string) (*session.Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.kept[cookie]; ok {
		return s.Clone(), nil
	}
	s, err := c.Store.Load(ctx, cookie)
	if err == nil {
		c.kept[cookie] = s.Clone()
	}
	return s, err
}

// TestSessionRevokedInFeed (issue 14, long session-cache lifetimes): a
// session a replica's cache still serves after it missed the pub/sub
// invalidation is refused once authproxy's copy of the revocations names
// it: by its sid, or by its user or the application-wide cutoff more than
// a second after its creation. A revocation within a second of its creation
// is too close to order: the store, past the cache, decides (the session
// passes while the store holds it, as a new login right after "log out
// everywhere" does). A stale copy refuses nothing.
func TestSessionRevokedInFeed(t *testing.T) {
	t.Parallel()
	src := &memRevocations{}
	cache := &staleCache{kept: map[string]*session.Session{}}
	e, ps := newEnv(t, envOpts{revocations: src, cache: func(st session.Store) session.Store { cache.Store = st; return cache }})
	p := ps[0]
	cookie, _ := loggedIn(t, p, "admin@example.com")
	created := loadSession(t, p, cookie).CreatedAt.Unix()
	sid := session.SID(cookie)

	tests := []struct {
		name    string
		revs    session.Revocations
		deleted bool // the session is gone from the store (the cache still has it)
		status  int
	}{
		{name: "nothing revoked", revs: session.Revocations{Version: "s.1"}, status: http.StatusOK},
		{name: "session revoked", revs: session.Revocations{Version: "s.2", Sessions: []string{sid}}, status: http.StatusUnauthorized},
		{name: "other session revoked", revs: session.Revocations{Version: "s.3", Sessions: []string{"other"}}, status: http.StatusOK},
		{name: "user revoked 2 s after creation", revs: session.Revocations{Version: "s.4", Subjects: map[string]int64{adminID: created + 2}}, status: http.StatusUnauthorized},
		{name: "user revoked in the second of creation, session kept", revs: session.Revocations{Version: "s.5", Subjects: map[string]int64{adminID: created}}, status: http.StatusOK},
		{name: "user revoked the second after creation, session kept", revs: session.Revocations{Version: "s.6", Subjects: map[string]int64{adminID: created + 1}}, status: http.StatusOK},
		{name: "cutoff 2 s after creation", revs: session.Revocations{Version: "s.7", Cutoff: created + 2}, status: http.StatusUnauthorized},
		{name: "cutoff before creation", revs: session.Revocations{Version: "s.8", Cutoff: created - 1}, status: http.StatusOK},
		// Last: the store loses the session for good.
		{name: "user revoked in the second of creation, session deleted", revs: session.Revocations{Version: "s.9", Subjects: map[string]int64{adminID: created}}, deleted: true, status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share the revocation store.
			src.set(tt.revs, false)
			if err := p.srv.revoked.Poll(t.Context()); err != nil {
				t.Fatalf("poll: %v", err)
			}
			if tt.deleted {
				if err := e.store.Delete(t.Context(), cookie); err != nil {
					t.Fatal(err)
				}
			}
			resp, body := fwd{uri: "/admin/x", cookie: cookie, accept: jsonAccept}.send(t, p, dialectForwarded)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == http.StatusUnauthorized && resp.Header.Get("Authorization") != "" {
				t.Error("a revoked session was answered with a gateway token")
			}
			// The user's info answers as the decision does.
			req, _ := http.NewRequest(http.MethodGet, p.url+"/oauth2/userinfo", nil)
			req.AddCookie(&http.Cookie{Name: "gw_session", Value: cookie})
			if resp, body := send(t, req); resp.StatusCode != tt.status {
				t.Errorf("userinfo: %d %s, want %d", resp.StatusCode, body, tt.status)
			}
		})
	}
	t.Run("stale copy", func(t *testing.T) {
		// The copy was never read (the store does not answer): the session
		// store decides.
		stale := &memRevocations{down: true}
		_, ps := newEnv(t, envOpts{revocations: stale})
		p := ps[0]
		cookie, _ := loggedIn(t, p, "admin@example.com")
		if err := p.srv.revoked.Poll(t.Context()); err == nil {
			t.Fatal("poll of a store that does not answer succeeded")
		}
		resp, body := fwd{uri: "/admin/x", cookie: cookie, accept: jsonAccept}.send(t, p, dialectForwarded)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d with a stale copy, want 200: %s", resp.StatusCode, body)
		}
	})
}
