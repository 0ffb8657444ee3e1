package webhook_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

const (
	clientID = "app-1"
	tenantID = "tenant-1"
	kid      = "key-1"
)

// created is the events' createInstant; now is the handler's clock, a
// minute later.
const created = 1764500000000

var now = time.UnixMilli(created).Add(time.Minute)

func clock() time.Time { return now }

var rsaKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

// keys is the IdP's JWKS: one RSA key, bound to RS256; down, it is not
// loaded; unreachable, an unknown kid could not be refetched.
type keys struct{ down, unreachable bool }

func (k keys) SigningKey(_ context.Context, id, alg string) (any, error) {
	switch {
	case k.down:
		return nil, errors.New("jwks not loaded")
	case k.unreachable && id != kid:
		return nil, fmt.Errorf("%w: refetch failed", jwtauth.ErrNotReady)
	case id != kid || alg != "RS256":
		return nil, fmt.Errorf("%w: no such key", jwtauth.ErrUnknownKey)
	}
	return &rsaKey.PublicKey, nil
}

// store records EndUser calls and marks; down fails both. u1 has two
// sessions, every other user none.
type store struct {
	mu      sync.Mutex
	down    bool
	deleted []string
	marks   map[string]bool
}

var errDown = errors.New("store down")

func (s *store) EndUser(ctx context.Context, user string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return 0, errDown
	}
	if err := ctx.Err(); err != nil {
		return 0, err // a store call on a dead context fails
	}
	s.deleted = append(s.deleted, user)
	if user == "u1" {
		return 2, nil
	}
	return 0, nil
}

func (s *store) Seen(_ context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return false, errDown
	}
	return s.marks[id], nil
}

func (s *store) Mark(_ context.Context, id string, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errDown
	}
	s.marks[id] = true
	return nil
}

func event(id, typ string, fields map[string]any) []byte {
	e := map[string]any{"id": id, "type": typ, "createInstant": created, "tenantId": tenantID}
	for k, v := range fields {
		if v == nil {
			delete(e, k)
			continue
		}
		e[k] = v
	}
	b, err := json.Marshal(map[string]any{"event": e})
	if err != nil {
		panic(err)
	}
	return b
}

func bodyHash(body []byte) string {
	s := sha256.Sum256(body)
	return base64.StdEncoding.EncodeToString(s[:])
}

// sign is FusionAuth's signature header for body: RS256 with kid.
func sign(t *testing.T, body []byte) string {
	t.Helper()
	return signClaims(t, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(body)})
}

// signClaims signs c as FusionAuth does: RS256 with kid.
func signClaims(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHandler(t *testing.T) {
	t.Parallel()
	revokeAll := event("e-revoke", webhook.TypeRefreshTokenRevoke, map[string]any{"userId": "u1"})
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		method   string
		ctype    string
		body     []byte
		sig      func(t *testing.T, body []byte) string // nil = sign
		hmac     []byte
		tenant   string
		premark  string
		down     bool
		keysDown bool
		keysGone bool // JWKS unreachable
		want     int
		wantUser []string
	}{
		{name: "revoke all of a user's tokens", body: revokeAll, want: 204, wantUser: []string{"u1"}},
		{name: "revoke for this application", body: event("e2", webhook.TypeRefreshTokenRevoke, map[string]any{"userId": "u1", "applicationId": clientID, "refreshToken": map[string]any{"id": "rtid", "token": "rt"}}), want: 204, wantUser: []string{"u1"}},
		{name: "user deactivate", body: event("e3", webhook.TypeUserDeactivate, map[string]any{"user": map[string]any{"id": "u2", "active": false}}), want: 204, wantUser: []string{"u2"}},
		{name: "user delete", body: event("e4", webhook.TypeUserDelete, map[string]any{"user": map[string]any{"id": "u3"}}), want: 204, wantUser: []string{"u3"}},
		{name: "content type with charset", ctype: "application/json; charset=UTF-8", body: revokeAll, want: 204, wantUser: []string{"u1"}},
		{name: "unsigned", body: revokeAll, sig: func(*testing.T, []byte) string { return "" }, want: 401},
		{name: "bad signature", body: revokeAll, sig: func(t *testing.T, b []byte) string {
			s := sign(t, b)
			return s[:len(s)-4] + "AAAA"
		}, want: 401},
		{name: "body tampered", body: revokeAll, sig: func(t *testing.T, _ []byte) string {
			return sign(t, event("e-revoke", webhook.TypeRefreshTokenRevoke, map[string]any{"userId": "someone-else"}))
		}, want: 401},
		{name: "no body hash claim", body: revokeAll, sig: func(t *testing.T, _ []byte) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "x"})
			tok.Header["kid"] = kid
			s, err := tok.SignedString(rsaKey)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, want: 401},
		{name: "alg none", body: revokeAll, sig: func(t *testing.T, b []byte) string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b)}).SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, want: 401},
		{name: "HS256 signed with the RSA public key", body: revokeAll, sig: func(t *testing.T, b []byte) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b)})
			tok.Header["kid"] = kid
			s, err := tok.SignedString(pubDER)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, want: 401},
		{name: "HMAC key configured", hmac: []byte(strings.Repeat("k", 32)), body: revokeAll, sig: func(t *testing.T, b []byte) string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b)}).SignedString([]byte(strings.Repeat("k", 32)))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, want: 204, wantUser: []string{"u1"}},
		{name: "HMAC with another key", hmac: []byte(strings.Repeat("k", 32)), body: revokeAll, sig: func(t *testing.T, b []byte) string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b)}).SignedString([]byte(strings.Repeat("x", 32)))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, want: 401},
		{name: "expired signature", body: revokeAll, sig: func(t *testing.T, b []byte) string {
			return signClaims(t, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b), "exp": now.Add(-time.Hour).Unix()})
		}, want: 401},
		{name: "signature issued in the future", body: revokeAll, sig: func(t *testing.T, b []byte) string {
			return signClaims(t, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b), "iat": now.Add(time.Hour).Unix()})
		}, want: 401},
		{name: "signature issued now", body: revokeAll, sig: func(t *testing.T, b []byte) string {
			return signClaims(t, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b), "iat": now.Unix()})
		}, want: 204, wantUser: []string{"u1"}},
		{name: "HMAC key configured, RS256 refused", hmac: []byte(strings.Repeat("k", 32)), body: revokeAll, want: 401},
		{name: "signature not a compact JWT", body: revokeAll, sig: func(*testing.T, []byte) string { return "abc.def" }, want: 401},
		{name: "no createInstant", body: event("e-s1", webhook.TypeUserDelete, map[string]any{"user": map[string]any{"id": "u3"}, "createInstant": nil}), want: 204},
		{name: "createInstant 0", body: event("e-s2", webhook.TypeUserDelete, map[string]any{"user": map[string]any{"id": "u3"}, "createInstant": 0}), want: 204},
		{name: "older than its mark lives less the margin", body: event("e-s3", webhook.TypeUserDelete, map[string]any{"user": map[string]any{"id": "u3"}, "createInstant": now.Add(-webhook.DefaultMarkTTL + webhook.StaleMargin - time.Second).UnixMilli()}), want: 204},
		{name: "just within the window", body: event("e-s4", webhook.TypeUserDelete, map[string]any{"user": map[string]any{"id": "u3"}, "createInstant": now.Add(-webhook.DefaultMarkTTL + webhook.StaleMargin + time.Second).UnixMilli()}), want: 204, wantUser: []string{"u3"}},
		{name: "created in the future", body: event("e-s5", webhook.TypeUserDelete, map[string]any{"user": map[string]any{"id": "u3"}, "createInstant": now.Add(webhook.MaxFuture + time.Second).UnixMilli()}), want: 204},
		{name: "slightly ahead of the clock", body: event("e-s6", webhook.TypeUserDelete, map[string]any{"user": map[string]any{"id": "u3"}, "createInstant": now.Add(webhook.MaxFuture - time.Second).UnixMilli()}), want: 204, wantUser: []string{"u3"}},
		{name: "oversized", body: event("e5", webhook.TypeUserDelete, map[string]any{"user": map[string]any{"id": "u3"}, "pad": strings.Repeat("x", webhook.DefaultMaxBody)}), want: 413},
		{name: "wrong method", method: http.MethodGet, body: nil, want: 405},
		{name: "wrong content type", ctype: "text/plain", body: revokeAll, want: 415},
		{name: "malformed json", body: []byte(`{"event":`), want: 400},
		{name: "no event id", body: []byte(`{"event":{"type":"user.delete","user":{"id":"u3"}}}`), want: 400},
		{name: "wrong tenant", tenant: "tenant-2", body: revokeAll, want: 204},
		{name: "expected tenant", tenant: tenantID, body: revokeAll, want: 204, wantUser: []string{"u1"}},
		{name: "other application", body: event("e6", webhook.TypeRefreshTokenRevoke, map[string]any{"userId": "u1", "applicationId": "app-2"}), want: 204},
		{name: "application-wide revoke", body: event("e7", webhook.TypeRefreshTokenRevoke, map[string]any{"applicationId": clientID}), want: 204},
		{name: "duplicate id", premark: "e-revoke", body: revokeAll, want: 204},
		{name: "store down", down: true, body: revokeAll, want: 503},
		{name: "keys not loaded", keysDown: true, body: revokeAll, want: 503},
		// Signed with the right key and kid: only the crit check refuses it.
		{name: "crit header", body: revokeAll, sig: func(t *testing.T, b []byte) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b)})
			tok.Header["kid"] = kid
			tok.Header["crit"] = []string{"b64"}
			s, err := tok.SignedString(rsaKey)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, want: 401},
		{name: "unknown kid", body: revokeAll, sig: func(t *testing.T, b []byte) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b)})
			tok.Header["kid"] = "other"
			s, err := tok.SignedString(rsaKey)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, want: 401},
		{name: "rotated kid, JWKS unreachable", keysGone: true, body: revokeAll, sig: func(t *testing.T, b []byte) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{webhook.BodyHashClaim: bodyHash(b)})
			tok.Header["kid"] = "rotated"
			s, err := tok.SignedString(rsaKey)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, want: 503},
		{name: "unknown type", body: event("e8", "user.login.success", map[string]any{"user": map[string]any{"id": "u1"}}), want: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &store{down: tt.down, marks: map[string]bool{}}
			if tt.premark != "" {
				st.marks[tt.premark] = true
			}
			h, err := webhook.New(webhook.Config{
				Sessions: st, Marks: st, Keys: keys{down: tt.keysDown, unreachable: tt.keysGone}, HMACKey: tt.hmac,
				ClientID: clientID, TenantID: tt.tenant, Now: clock,
			})
			if err != nil {
				t.Fatal(err)
			}
			method := cmp.Or(tt.method, http.MethodPost)
			r := httptest.NewRequest(method, "/webhooks/fusionauth", strings.NewReader(string(tt.body)))
			r.Header.Set("Content-Type", cmp.Or(tt.ctype, "application/json"))
			sig := sign
			if tt.sig != nil {
				sig = tt.sig
			}
			if s := sig(t, tt.body); s != "" {
				r.Header.Set(webhook.SignatureHeader, s)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			if !slices.Equal(st.deleted, tt.wantUser) {
				t.Fatalf("deleted users %v, want %v", st.deleted, tt.wantUser)
			}
			if id := eventID(tt.body); tt.want == 204 && len(tt.wantUser) > 0 && !st.marks[id] {
				t.Fatalf("event %q handled but not marked", id)
			}
			if w.Code >= 400 && !strings.Contains(w.Body.String(), `"error"`) {
				t.Fatalf("refusal without an error body: %s", w.Body)
			}
		})
	}
}

func eventID(body []byte) string {
	var env struct {
		Event struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	_ = json.Unmarshal(body, &env)
	return env.Event.ID
}

// TestDuplicateFlood: a redelivered event does its work once, however often
// it arrives.
func TestDuplicateFlood(t *testing.T) {
	t.Parallel()
	st := &store{marks: map[string]bool{}}
	h, err := webhook.New(webhook.Config{Sessions: st, Marks: st, Keys: keys{}, ClientID: clientID, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	body := event("e-dup", webhook.TypeUserDeactivate, map[string]any{"user": map[string]any{"id": "u1"}})
	sig := sign(t, body)
	for range 100 {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/fusionauth", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(webhook.SignatureHeader, sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent {
			t.Fatalf("status %d, want 204", w.Code)
		}
	}
	if len(st.deleted) != 1 {
		t.Fatalf("EndUser called %d times for 100 deliveries, want 1", len(st.deleted))
	}
}

func TestNewRequires(t *testing.T) {
	t.Parallel()
	st := &store{}
	for name, cfg := range map[string]webhook.Config{
		"no key":       {Sessions: st, Marks: st, ClientID: clientID},
		"no sessions":  {Marks: st, Keys: keys{}, ClientID: clientID},
		"no marks":     {Sessions: st, Keys: keys{}, ClientID: clientID},
		"no client id": {Sessions: st, Marks: st, Keys: keys{}},
	} {
		if _, err := webhook.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// TestEffectOutlivesTheRequest: FusionAuth hanging up does not cut the
// deletion short.
func TestEffectOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	st := &store{marks: map[string]bool{}}
	h, err := webhook.New(webhook.Config{Sessions: st, Marks: st, Keys: keys{}, ClientID: clientID, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	body := event("e-gone", webhook.TypeUserDelete, map[string]any{"user": map[string]any{"id": "u1"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client is gone
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, webhook.Path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(webhook.SignatureHeader, sign(t, body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || !slices.Equal(st.deleted, []string{"u1"}) || !st.marks["e-gone"] {
		t.Fatalf("status %d, deleted %v, marked %v; want 204, [u1], true", w.Code, st.deleted, st.marks["e-gone"])
	}
}

// unread fails the test when read.
type unread struct{ t *testing.T }

func (u unread) Read([]byte) (int, error) {
	u.t.Error("body read before the signature header was checked")
	return 0, errors.New("read")
}

// TestUnsignedBodyNotRead: a request without a compact JWT signature is
// refused before its body is read.
func TestUnsignedBodyNotRead(t *testing.T) {
	t.Parallel()
	h, err := webhook.New(webhook.Config{Sessions: &store{}, Marks: &store{}, Keys: keys{}, ClientID: clientID, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{"", "not-a-jwt", "a.b", "a.b.c.d"} {
		r := httptest.NewRequest(http.MethodPost, webhook.Path, unread{t})
		r.Header.Set("Content-Type", "application/json")
		if sig != "" {
			r.Header.Set(webhook.SignatureHeader, sig)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("signature %q: status %d, want 401", sig, w.Code)
		}
	}
}
