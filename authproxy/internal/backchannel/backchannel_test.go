package backchannel_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/authproxy/internal/backchannel"
	"github.com/gatewarden/gatewarden/authproxy/internal/links"
	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

const (
	issuer   = "https://idp.example"
	clientID = "app-1"
	kid      = "k1"
)

var now = time.Unix(1764500000, 0)

func clock() time.Time { return now }

// rsaKey signs the provider's logout tokens; otherKey is an impostor's.
var rsaKey, otherKey = genRSA(), genRSA()

func genRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// keys is the provider: it announces back-channel logout (with sessions)
// unless told otherwise.
type keys struct{ unsupported, noSessions bool }

func (keys) Issuer() string { return issuer }

func (k keys) BackChannelLogout() (bool, bool) { return !k.unsupported, !k.noSessions }

// SigningKey publishes rsaKey's public key as kid, for RS256 only.
func (keys) SigningKey(_ context.Context, id, alg string) (any, error) {
	if k, ok := map[[2]string]any{{kid, "RS256"}: &rsaKey.PublicKey}[[2]string{id, alg}]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: no such key", jwtauth.ErrUnknownKey)
}

// fake is the session store, the links (sid "sid-a" is u1's session) and
// the marks; down fails the store.
type fake struct {
	mu           sync.Mutex
	down         bool
	users, ended []string
	marks        map[string]bool
	markTTL      time.Duration
}

var errDown = errors.New("store down")

// EndUser ends u1's two sessions (every other user has none).
func (f *fake) EndUser(_ context.Context, u string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, errDown
	}
	f.users = append(f.users, u)
	if u == "u1" {
		return 2, nil
	}
	return 0, nil
}

func (f *fake) End(_ context.Context, kind links.Kind, v, user string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, errDown
	}
	if kind != links.ProviderSession || v != "sid-a" || (user != "" && user != "u1") {
		return false, nil
	}
	f.ended = append(f.ended, v)
	return true, nil
}

func (f *fake) Seen(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.marks[id], nil
}

func (f *fake) Mark(_ context.Context, id string, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marks[id], f.markTTL = true, ttl
	return nil
}

func claims(edit func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": issuer, "aud": clientID, "iat": now.Unix(), "jti": "j-1",
		"sub": "u1", "sid": "sid-a",
		"events": map[string]any{backchannel.EventURI: map[string]any{}},
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func signWith(t *testing.T, m jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	tok.Header["kid"] = kid
	tok.Header["typ"] = "logout+jwt"
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t *testing.T, c jwt.MapClaims) string {
	return signWith(t, jwt.SigningMethodRS256, rsaKey, nil, c)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	del := func(k string) func(jwt.MapClaims) { return func(c jwt.MapClaims) { delete(c, k) } }
	set := func(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
	tests := []struct {
		name      string
		method    string
		ctype     string
		token     func(t *testing.T) string
		premark   bool
		down      bool
		provider  keys
		want      int
		wantEnded []string
		wantUsers []string
	}{
		{name: "sid and sub", token: func(t *testing.T) string { return sign(t, claims(nil)) }, want: 200, wantEnded: []string{"sid-a"}},
		{name: "sid only", token: func(t *testing.T) string { return sign(t, claims(del("sub"))) }, want: 200, wantEnded: []string{"sid-a"}},
		{name: "sub only: all the user's sessions", token: func(t *testing.T) string { return sign(t, claims(del("sid"))) }, want: 200, wantUsers: []string{"u1"}},
		{name: "sid of another user's session", token: func(t *testing.T) string { return sign(t, claims(set("sub", "u2"))) }, want: 200},
		{name: "sid no session holds", token: func(t *testing.T) string { return sign(t, claims(set("sid", "sid-z"))) }, want: 200},
		{name: "typ JWT", token: func(t *testing.T) string {
			return signWith(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"typ": "JWT"}, claims(nil))
		}, want: 200, wantEnded: []string{"sid-a"}},
		{name: "no typ", token: func(t *testing.T) string {
			return signWith(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"typ": nil}, claims(nil))
		}, want: 200, wantEnded: []string{"sid-a"}},
		{name: "exp in the future", token: func(t *testing.T) string { return sign(t, claims(set("exp", now.Add(time.Minute).Unix()))) }, want: 200, wantEnded: []string{"sid-a"}},
		{name: "aud list with the client", token: func(t *testing.T) string { return sign(t, claims(set("aud", []string{"x", clientID}))) }, want: 200, wantEnded: []string{"sid-a"}},

		{name: "provider announces no back-channel logout", provider: keys{unsupported: true}, token: func(t *testing.T) string { return sign(t, claims(nil)) }, want: 400},
		{name: "provider announces no sessions: the sub's sessions", provider: keys{noSessions: true}, token: func(t *testing.T) string { return sign(t, claims(nil)) }, want: 200, wantUsers: []string{"u1"}},
		{name: "provider announces no sessions, sid only", provider: keys{noSessions: true}, token: func(t *testing.T) string { return sign(t, claims(del("sub"))) }, want: 400},
		{name: "replayed jti", premark: true, token: func(t *testing.T) string { return sign(t, claims(nil)) }, want: 400},
		{name: "typ of an access token", token: func(t *testing.T) string {
			return signWith(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"typ": "at+jwt"}, claims(nil))
		}, want: 400},
		{name: "signed by another key", token: func(t *testing.T) string { return signWith(t, jwt.SigningMethodRS256, otherKey, nil, claims(nil)) }, want: 400},
		{name: "unknown kid", token: func(t *testing.T) string {
			return signWith(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": "k9"}, claims(nil))
		}, want: 400},
		{name: "alg none", token: func(t *testing.T) string {
			return signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, claims(nil))
		}, want: 400},
		{name: "HS256 with the public key", token: func(t *testing.T) string { return signWith(t, jwt.SigningMethodHS256, pubDER, nil, claims(nil)) }, want: 400},
		{name: "wrong issuer", token: func(t *testing.T) string { return sign(t, claims(set("iss", "https://evil.example"))) }, want: 400},
		{name: "wrong audience", token: func(t *testing.T) string { return sign(t, claims(set("aud", "app-2"))) }, want: 400},
		{name: "no iat", token: func(t *testing.T) string { return sign(t, claims(del("iat"))) }, want: 400},
		{name: "iat too old", token: func(t *testing.T) string {
			return sign(t, claims(set("iat", now.Add(-backchannel.DefaultMaxAge-time.Second).Unix())))
		}, want: 400},
		{name: "iat in the future", token: func(t *testing.T) string { return sign(t, claims(set("iat", now.Add(time.Hour).Unix()))) }, want: 400},
		{name: "expired", token: func(t *testing.T) string { return sign(t, claims(set("exp", now.Add(-time.Hour).Unix()))) }, want: 400},
		{name: "no events", token: func(t *testing.T) string { return sign(t, claims(del("events"))) }, want: 400},
		{name: "events without the logout event", token: func(t *testing.T) string {
			return sign(t, claims(set("events", map[string]any{"http://example.com/other": map[string]any{}})))
		}, want: 400},
		{name: "logout event not an object", token: func(t *testing.T) string {
			return sign(t, claims(set("events", map[string]any{backchannel.EventURI: "yes"})))
		}, want: 400},
		{name: "nonce (an id_token)", token: func(t *testing.T) string { return sign(t, claims(set("nonce", "n"))) }, want: 400},
		{name: "neither sid nor sub", token: func(t *testing.T) string {
			return sign(t, claims(func(c jwt.MapClaims) { delete(c, "sid"); delete(c, "sub") }))
		}, want: 400},
		{name: "no jti", token: func(t *testing.T) string { return sign(t, claims(del("jti"))) }, want: 400},
		{name: "not a JWT", token: func(*testing.T) string { return "garbage" }, want: 400},
		{name: "no token", token: func(*testing.T) string { return "" }, want: 400},
		{name: "JSON body", ctype: "application/json", token: func(t *testing.T) string { return sign(t, claims(nil)) }, want: 400},
		{name: "GET", method: http.MethodGet, token: func(t *testing.T) string { return sign(t, claims(nil)) }, want: 405},
		{name: "store down", down: true, token: func(t *testing.T) string { return sign(t, claims(nil)) }, want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{down: tt.down, marks: map[string]bool{}}
			if tt.premark {
				f.marks["bcl\x00"+issuer+"\x00j-1"] = true
			}
			var logs testkit.LogBuffer
			h, err := backchannel.New(backchannel.Config{
				Keys: tt.provider, Sessions: f, Linked: f, Marks: f, ClientID: clientID, Now: clock,
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError})),
			})
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{}
			if tok := tt.token(t); tok != "" {
				form.Set("logout_token", tok)
			}
			method := http.MethodPost
			if tt.method != "" {
				method = tt.method
			}
			r := httptest.NewRequest(method, "/oauth2/backchannel-logout", strings.NewReader(form.Encode()))
			ctype := "application/x-www-form-urlencoded"
			if tt.ctype != "" {
				ctype = tt.ctype
			}
			r.Header.Set("Content-Type", ctype)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", w.Header().Get("Cache-Control"))
			}
			if !slices.Equal(f.ended, tt.wantEnded) || !slices.Equal(f.users, tt.wantUsers) {
				t.Fatalf("ended sessions %v users %v, want %v %v", f.ended, f.users, tt.wantEnded, tt.wantUsers)
			}
			if w.Code == 400 && !strings.Contains(w.Body.String(), `"error"`) {
				t.Errorf("400 without an error body: %s", w.Body)
			}
			checkAudit(t, logs.String(), tt.want == 200, len(tt.wantEnded)+2*len(tt.wantUsers))
			if tt.want == 200 && (len(f.marks) != 1 || f.markTTL < backchannel.DefaultMaxAge) {
				t.Errorf("jti marks %v ttl %v, want one, kept longer than a token is accepted", f.marks, f.markTTL)
			}
		})
	}
}

// TestReplay: the same logout token twice acts once; the second is 400.
func TestReplay(t *testing.T) {
	t.Parallel()
	f := &fake{marks: map[string]bool{}}
	h, err := backchannel.New(backchannel.Config{Keys: keys{}, Sessions: f, Linked: f, Marks: f, ClientID: clientID, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	body := url.Values{"logout_token": {sign(t, claims(nil))}}.Encode()
	var codes []int
	for range 2 {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		codes = append(codes, w.Code)
	}
	if !slices.Equal(codes, []int{200, 400}) || len(f.ended) != 1 {
		t.Fatalf("codes %v ended %v, want [200 400] and one session ended", codes, f.ended)
	}
}

// checkAudit: an accepted logout token writes one audit line (whatever the
// log level) from source backchannel counting the sessions it ended,
// sessions_revoked or, when none ended, tokens_revoked; a refused one
// writes none.
func checkAudit(t *testing.T, logs string, accepted bool, ended int) {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if m["log"] == "audit" {
			lines = append(lines, m)
		}
	}
	if !accepted {
		if len(lines) != 0 {
			t.Errorf("audit lines %v for a refused token, want none", lines)
		}
		return
	}
	event := "sessions_revoked"
	if ended == 0 {
		event = "tokens_revoked"
	}
	if len(lines) != 1 || lines[0]["event"] != event || lines[0]["source"] != "backchannel" || lines[0]["sessions_ended"] != float64(ended) {
		t.Errorf("audit lines %v, want one %s from backchannel with sessions_ended %d", lines, event, ended)
	}
}
