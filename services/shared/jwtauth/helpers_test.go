package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// keyPair holds one private key of each kind used in tests.
type keyPair struct {
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	ed   ed25519.PrivateKey
	hmac []byte
}

func genKeys() keyPair {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	h := make([]byte, 32)
	_, _ = rand.Read(h)
	return keyPair{rsa: r, ec: e, ed: ed, hmac: h}
}

// Test keys are generated once per test binary (RSA generation is slow).
var (
	keysA = sync.OnceValue(genKeys) // issuer gw.test (PEM) and hs.test (HMAC)
	keysB = sync.OnceValue(genKeys) // issuer idp.test (JWKS)
	keysC = sync.OnceValue(genKeys) // nobody's keys
)

const (
	issPEM  = "https://gw.test"
	issHMAC = "https://hs.test"
	issJWKS = "https://idp.test"
	audInv  = "inventory"
	kidRSA  = "rsa-1"
	kidEC   = "ec-1"
)

// t0 is the fixed "now" of tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newClock is a fake clock showing t0.
func newClock() *testkit.Clock { return testkit.NewClock(t0) }

func pemPublic(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkJSON renders pub as a JWK map.
func jwkJSON(kid, alg, use string, pub crypto.PublicKey) map[string]string {
	m := map[string]string{"kid": kid}
	if alg != "" {
		m["alg"] = alg
	}
	if use != "" {
		m["use"] = use
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64u(k.N.Bytes()), b64u(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		b, err := k.Bytes()
		if err != nil {
			panic(err)
		}
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64u(b[1:33]), b64u(b[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64u(k)
	}
	return m
}

func jwksBody(keys ...map[string]string) []byte {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

// jwksServer serves a swappable JWKS body (or an error status) and counts hits.
type jwksServer struct {
	*httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	body   []byte
	status int
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

// defaultJWKS is issuer idp.test's key set (keys B).
func defaultJWKS() []byte {
	b := keysB()
	return jwksBody(jwkJSON(kidRSA, "RS256", "sig", &b.rsa.PublicKey), jwkJSON(kidEC, "", "", &b.ec.PublicKey))
}

// testConfig trusts three issuers: gw.test (PEM: RSA, EC, Ed25519 of keys A),
// hs.test (HS256 secret of keys A) and idp.test (JWKS at jwksURL, keys B).
func testConfig(t testing.TB, c *testkit.Clock, jwksURL string) Config {
	t.Helper()
	a := keysA()
	return Config{
		Issuers: []IssuerConfig{
			{Issuer: issPEM, PEMKeys: [][]byte{pemPublic(t, &a.rsa.PublicKey), pemPublic(t, &a.ec.PublicKey), pemPublic(t, a.ed.Public())}},
			{Issuer: issHMAC, HMACSecret: a.hmac},
			{Issuer: issJWKS, JWKSURL: jwksURL, JWKSRefresh: time.Hour},
		},
		Audience: audInv,
		Now:      c.Now,
	}
}

func newVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// claims returns valid claims for iss at time t0.
func claims(iss string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   iss,
		"sub":   "user-1",
		"aud":   audInv,
		"exp":   t0.Add(time.Minute).Unix(),
		"iat":   t0.Unix(),
		"roles": []string{"admin"},
	}
}

// with returns a copy of m with the given changes; a nil value deletes.
func with(m jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// sign mints a token; kid "" leaves the header without kid.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// rawToken assembles a token from a raw header, claims and signature.
func rawToken(header string, c jwt.MapClaims, sig []byte) string {
	p, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return b64u([]byte(header)) + "." + b64u(p) + "." + b64u(sig)
}
