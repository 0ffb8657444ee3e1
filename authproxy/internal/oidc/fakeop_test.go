package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeOP is a minimal OpenID provider whose keys, algorithm and token
// shapes a test controls: it signs with its current key and publishes the
// keys the test chooses, so rotations and lagging JWKS can be staged.
type fakeOP struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	signer    crypto.Signer
	method    jwt.SigningMethod
	kid       string // "" = no kid in tokens or JWKS
	published []publishedKey
	access    func(jwt.MapClaims) // edits access-token claims
	opaque    bool
	noEmail   bool // id_token and access token without email/name
	nonce     string
	userinfo  map[string]any
}

type publishedKey struct {
	kid string
	alg string
	pub crypto.PublicKey
}

const fakeClient = "fake-client"

func newFakeOP(t *testing.T) *fakeOP {
	op := &fakeOP{t: t}
	op.rotate(jwt.SigningMethodRS256, "k1", true)
	op.srv = httptest.NewServer(http.HandlerFunc(op.serve))
	t.Cleanup(op.srv.Close)
	return op
}

func genKey(t *testing.T, m jwt.SigningMethod) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch m.Alg() {
	case "RS256", "RS384", "RS512":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rotate makes a new key current; publish says whether the JWKS shows it
// at once (false stages a provider that signs before publishing).
func (op *fakeOP) rotate(m jwt.SigningMethod, kid string, publish bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.signer, op.method, op.kid = genKey(op.t, m), m, kid
	if publish {
		op.published = append(op.published, publishedKey{kid: kid, alg: m.Alg(), pub: op.signer.Public()})
	}
}

func (op *fakeOP) publishCurrent() {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.published = append(op.published, publishedKey{kid: op.kid, alg: op.method.Alg(), pub: op.signer.Public()})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwkOf(k publishedKey) map[string]string {
	m := map[string]string{"alg": k.alg, "use": "sig"}
	if k.kid != "" {
		m["kid"] = k.kid
	}
	switch p := k.pub.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		b, _ := p.Bytes()
		n := (len(b) - 1) / 2
		m["kty"], m["crv"], m["x"], m["y"] = "EC", p.Curve.Params().Name, b64(b[1:1+n]), b64(b[1+n:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(p)
	}
	return m
}

func (op *fakeOP) sign(c jwt.MapClaims) string {
	op.mu.Lock()
	defer op.mu.Unlock()
	tok := jwt.NewWithClaims(op.method, c)
	if op.kid != "" {
		tok.Header["kid"] = op.kid
	}
	s, err := tok.SignedString(op.signer)
	if err != nil {
		op.t.Error(err)
	}
	return s
}

func (op *fakeOP) serve(w http.ResponseWriter, r *http.Request) {
	iss := op.srv.URL
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
			"jwks_uri": iss + "/jwks", "userinfo_endpoint": iss + "/userinfo",
			"id_token_signing_alg_values_supported": []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"},
		})
	case "/jwks":
		op.mu.Lock()
		keys := make([]map[string]string, 0, len(op.published))
		for _, k := range op.published {
			keys = append(keys, jwkOf(k))
		}
		op.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	case "/userinfo":
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(op.userinfo)
	case "/token":
		_ = r.ParseForm()
		now := time.Now()
		base := jwt.MapClaims{"iss": iss, "aud": fakeClient, "sub": "user-1", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
		id := jwt.MapClaims{"at_hash": "x"}
		if !op.noEmail {
			id["email"], id["name"] = "u@example.com", "U Ser"
		}
		if r.PostForm.Get("grant_type") == "authorization_code" {
			id["nonce"], id["c_hash"] = op.nonce, "c"
		}
		for k, v := range base {
			id[k] = v
		}
		access := jwt.MapClaims{"jti": "j"}
		for k, v := range base {
			access[k] = v
		}
		if op.access != nil {
			op.access(access)
		}
		at := op.sign(access)
		if op.opaque {
			at = "opaque-" + b64([]byte(now.String()))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": at, "token_type": "Bearer", "expires_in": 300,
			"refresh_token": "rt-" + b64([]byte(now.String())), "id_token": op.sign(id),
		})
	default:
		http.NotFound(w, r)
	}
}

func (op *fakeOP) provider(t *testing.T, mutate func(*Config)) *Provider {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := Config{URL: op.srv.URL, ClientID: fakeClient, ClientSecret: "s", RedirectURL: "http://127.0.0.1/cb",
		JWKSRefetch: 50 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	waitReady(t, p)
	return p
}

func (op *fakeOP) exchange(t *testing.T, p *Provider) (*Tokens, *User, error) {
	t.Helper()
	op.nonce = "n-1"
	return p.Exchange(context.Background(), "code", NewVerifier(), "n-1")
}

// TestEveryKeyMasterAlgorithm: logins and refreshes work whatever
// asymmetric algorithm FusionAuth's Key Master key uses, with or without a
// kid when the provider has one key.
func TestEveryKeyMasterAlgorithm(t *testing.T) {
	t.Parallel()
	methods := []jwt.SigningMethod{jwt.SigningMethodRS256, jwt.SigningMethodRS384, jwt.SigningMethodRS512,
		jwt.SigningMethodES256, jwt.SigningMethodES384, jwt.SigningMethodES512, jwt.SigningMethodEdDSA}
	for _, m := range methods {
		for _, kid := range []string{"k", ""} {
			name := m.Alg()
			if kid == "" {
				name += " without kid"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				op := newFakeOP(t)
				op.mu.Lock()
				op.published = nil
				op.mu.Unlock()
				op.rotate(m, kid, true)
				p := op.provider(t, nil)
				toks, u, err := op.exchange(t, p)
				if err != nil {
					t.Fatalf("Exchange: %v", err)
				}
				if u.ID != "user-1" {
					t.Errorf("user %+v", u)
				}
				if _, err := p.Refresh(context.Background(), toks.RefreshToken); err != nil {
					t.Fatalf("Refresh: %v", err)
				}
			})
		}
	}
}

// TestRefreshAcrossKeyRotation: a refresh answer signed with a key the
// JWKS shows only a moment later is verified again after a refetch, so
// the session keeps its (one-time-use, already spent) refresh; keys
// rotating twice in a row change nothing.
func TestRefreshAcrossKeyRotation(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	p := op.provider(t, nil)
	toks, _, err := op.exchange(t, p)
	if err != nil {
		t.Fatal(err)
	}
	for i, kid := range []string{"k2", "k3"} {
		op.rotate(jwt.SigningMethodES256, kid, false) // signs before publishing
		go func() {
			time.Sleep(80 * time.Millisecond)
			op.publishCurrent()
		}()
		next, err := p.Refresh(context.Background(), toks.RefreshToken)
		if err != nil {
			t.Fatalf("refresh %d after rotation to %s: %v", i+1, kid, err)
		}
		toks = next
	}
	// A key that never appears is a transient failure, not a lost session.
	op.rotate(jwt.SigningMethodES256, "never-published", false)
	if _, err := p.Refresh(context.Background(), toks.RefreshToken); !errors.Is(err, ErrRefresh) || errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("unpublished key: %v, want ErrRefresh only", err)
	}
}

// TestRolesClaim: roles from FusionAuth's roles claim (with its
// applicationId check) by default, or from another claim or nested path.
func TestRolesClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		claim  string
		access func(jwt.MapClaims)
		want   []string
	}{
		{name: "FusionAuth roles, registered", access: func(c jwt.MapClaims) { c["roles"] = []string{"admin"}; c["applicationId"] = fakeClient }, want: []string{"admin"}},
		{name: "FusionAuth roles without applicationId", access: func(c jwt.MapClaims) { c["roles"] = []string{"admin"} }},
		{name: "groups", claim: "groups", access: func(c jwt.MapClaims) { c["groups"] = []string{"admin", "dev"} }, want: []string{"admin", "dev"}},
		{name: "Keycloak realm_access.roles", claim: "realm_access.roles", access: func(c jwt.MapClaims) {
			c["realm_access"] = map[string]any{"roles": []string{"branch-manager"}}
		}, want: []string{"branch-manager"}},
		{name: "nested path absent", claim: "realm_access.roles", access: func(c jwt.MapClaims) { c["roles"] = []string{"admin"} }},
		{name: "single string", claim: "role", access: func(c jwt.MapClaims) { c["role"] = "admin" }, want: []string{"admin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op := newFakeOP(t)
			op.access = tc.access
			p := op.provider(t, func(c *Config) { c.RolesClaim = tc.claim })
			_, u, err := op.exchange(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Roles, tc.want) {
				t.Errorf("roles %v, want %v", u.Roles, tc.want)
			}
		})
	}
}

// TestBranchesClaim: the access token's branches claim (ids as strings or
// numbers) becomes the user's branches; one that is no list of ids makes the
// access token invalid.
func TestBranchesClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   any // nil: no claim
		want    []string
		wantErr error
	}{
		{name: "strings and numbers", value: []any{"1", 22}, want: []string{"1", "22"}},
		{name: "absent"},
		{name: "not a list of ids", value: map[string]any{"1": true}, wantErr: ErrAccessToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op := newFakeOP(t)
			op.access = func(c jwt.MapClaims) {
				c["roles"], c["applicationId"] = []string{"branch-manager"}, fakeClient
				if tc.value != nil {
					c["branches"] = tc.value
				}
			}
			_, u, err := op.exchange(t, op.provider(t, nil))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("exchange: %v, want %v", err, tc.wantErr)
			}
			if err == nil && !slices.Equal(u.Branches, tc.want) {
				t.Errorf("branches %q, want %q", u.Branches, tc.want)
			}
		})
	}
}

// TestOpaqueAndUserinfo: opaque access tokens log in by the id_token with
// no roles; name and email missing from the tokens come from userinfo (for
// the same subject only).
func TestOpaqueAndUserinfo(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	op.opaque, op.noEmail = true, true
	op.userinfo = map[string]any{"sub": "user-1", "email": "info@example.com", "name": "From Userinfo", "roles": []string{"admin"}}
	p := op.provider(t, func(c *Config) { c.OpaqueAccessTokens = true })
	toks, u, err := op.exchange(t, p)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if u.Email != "info@example.com" || u.Name != "From Userinfo" || len(u.Roles) != 0 || toks.Access != nil {
		t.Errorf("user %+v access %v", u, toks.Access)
	}
	if toks.Expiry.Before(time.Now().Add(4*time.Minute)) || toks.Lifetime <= 0 {
		t.Errorf("expiry %v lifetime %v from expires_in", toks.Expiry, toks.Lifetime)
	}
	// Another subject's userinfo is ignored.
	op.userinfo = map[string]any{"sub": "someone-else", "email": "x@example.com", "name": "X"}
	_, u, err = op.exchange(t, p)
	if err != nil || u.Email != "" {
		t.Errorf("userinfo of another subject used: %+v %v", u, err)
	}
	// The same provider configured for JWT access tokens says what is wrong.
	p2 := op.provider(t, nil)
	if _, _, err := op.exchange(t, p2); !errors.Is(err, ErrAccessToken) || !strings.Contains(err.Error(), "opaque") {
		t.Errorf("opaque token with jwt format: %v", err)
	}
}

// TestNonceInAccessTokens: a provider whose access tokens carry the nonce
// (dex) is learned from the token endpoint's answer; its access tokens then
// pass as bearer tokens while its id_tokens (at_hash) are still refused.
func TestNonceInAccessTokens(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	op.access = func(c jwt.MapClaims) { c["nonce"] = "n-1" }
	p := op.provider(t, nil)
	toks, _, err := op.exchange(t, p)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if _, _, err := p.VerifyAccessToken(context.Background(), toks.AccessToken); err != nil {
		t.Errorf("access token with nonce refused after the token endpoint showed one: %v", err)
	}
	if _, _, err := p.VerifyAccessToken(context.Background(), toks.IDToken); !errors.Is(err, ErrAccessToken) {
		t.Errorf("id_token accepted as bearer: %v", err)
	}
}

func FuzzClaimStrings(f *testing.F) {
	f.Add("e30.eyJyZWFsbV9hY2Nlc3MiOnsicm9sZXMiOlsiYSJdfX0.x", "realm_access.roles")
	f.Add("a.b.c", "groups")
	f.Add("..", ".")
	f.Fuzz(func(t *testing.T, raw, path string) {
		_ = claimStrings(raw, path) // must not panic
	})
}

// TestDexShapedAccessTokens: dex signs its access tokens as id_tokens
// (nonce and at_hash of a random value). Learned from the token endpoint,
// they pass as bearer tokens; the id_token of the code flow (c_hash) is
// still refused.
func TestDexShapedAccessTokens(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	op.access = func(c jwt.MapClaims) { c["nonce"], c["at_hash"] = "n-1", "random" }
	p := op.provider(t, nil)
	if _, _, err := p.VerifyAccessToken(context.Background(), op.sign(jwt.MapClaims{
		"iss": op.srv.URL, "aud": fakeClient, "sub": "user-1", "exp": time.Now().Add(time.Minute).Unix(), "at_hash": "x",
	})); !errors.Is(err, ErrAccessToken) {
		t.Fatalf("before any login, an at_hash token passed: %v", err)
	}
	toks, _, err := op.exchange(t, p)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if _, _, err := p.VerifyAccessToken(context.Background(), toks.AccessToken); err != nil {
		t.Errorf("dex-shaped access token refused after the token endpoint showed one: %v", err)
	}
	if _, _, err := p.VerifyAccessToken(context.Background(), toks.IDToken); !errors.Is(err, ErrAccessToken) {
		t.Errorf("code-flow id_token (c_hash) accepted as bearer: %v", err)
	}
}
