package token

import (
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
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

const testIssuer = "http://localhost:8000"

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// keyCache generates each test key once per process (RSA generation is slow).
type keyCache struct {
	mu   sync.Mutex
	keys map[string]crypto.Signer
}

var testKeys = &keyCache{keys: map[string]crypto.Signer{}}

func (kc *keyCache) get(t testing.TB, name string) crypto.Signer {
	t.Helper()
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if k, ok := kc.keys[name]; ok {
		return k
	}
	var (
		k   crypto.Signer
		err error
	)
	switch {
	case strings.HasPrefix(name, "ec"):
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case strings.HasPrefix(name, "p384"):
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case strings.HasPrefix(name, "rsa1024"):
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case strings.HasPrefix(name, "rsa"):
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case strings.HasPrefix(name, "ed"):
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil || k == nil {
		t.Fatalf("generate %s: %v", name, err)
	}
	kc.keys[name] = k
	return k
}

func pkcs8PEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func sec1PEM(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	return append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
}

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

var hmacSecret = []byte("0123456789abcdef0123456789abcdef")

// configFor returns a valid signer config for alg with a fixed clock.
func configFor(t testing.TB, alg string) SignerConfig {
	cfg := SignerConfig{Alg: alg, Issuer: testIssuer, Now: func() time.Time { return testNow }}
	switch alg {
	case ES256, "":
		cfg.KeyPEMs = [][]byte{pkcs8PEM(t, testKeys.get(t, "ec1"))}
	case RS256:
		cfg.KeyPEMs = [][]byte{pkcs8PEM(t, testKeys.get(t, "rsa1"))}
	case EdDSA:
		cfg.KeyPEMs = [][]byte{pkcs8PEM(t, testKeys.get(t, "ed1"))}
	case HS256:
		cfg.HMACSecret = hmacSecret
	}
	return cfg
}

// publicKeys decodes a JWKS document the way a verifier would.
func publicKeys(t testing.TB, doc []byte) map[string]any {
	t.Helper()
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("jwk member %q: %v", s, err)
		}
		return b
	}
	out := map[string]any{}
	for _, k := range set.Keys {
		if k.Use != "sig" || k.Kid == "" || k.Kid != thumbprint(k) {
			t.Fatalf("bad jwk %+v", k)
		}
		switch k.Kty {
		case "EC":
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, dec(k.X)...), dec(k.Y)...))
			if err != nil {
				t.Fatal(err)
			}
			out[k.Kid] = pub
		case "RSA":
			out[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(dec(k.N)), E: int(new(big.Int).SetBytes(dec(k.E)).Int64())}
		case "OKP":
			out[k.Kid] = ed25519.PublicKey(dec(k.X))
		default:
			t.Fatalf("kty %q", k.Kty)
		}
	}
	return out
}

func TestMintVerifiesWithGolangJWT(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{ES256, RS256, EdDSA, HS256} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			s, err := NewSigner(configFor(t, alg))
			if err != nil {
				t.Fatal(err)
			}
			keys := publicKeys(t, s.JWKS())
			tok, exp, err := s.Mint(Claims{
				Subject: "user-1", Audience: "inventory", Roles: []string{"branch-manager"}, TenantID: "tid-1",
				SessionID: "sid-hash", Branches: []string{"1"}, Email: "m@example.com", Name: "Max Manager",
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := testNow.Add(DefaultTTL); !exp.Equal(want) {
				t.Errorf("exp = %v; want %v", exp, want)
			}
			parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
				if alg == HS256 {
					return hmacSecret, nil
				}
				k, ok := keys[tk.Header["kid"].(string)]
				if !ok {
					return nil, errors.New("unknown kid")
				}
				return k, nil
			}, jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(func() time.Time { return testNow }),
				jwt.WithIssuer(testIssuer), jwt.WithAudience("inventory"), jwt.WithExpirationRequired())
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if parsed.Header["typ"] != "JWT" || parsed.Header["alg"] != alg {
				t.Errorf("header = %v", parsed.Header)
			}
			if kid, _ := parsed.Header["kid"].(string); (alg == HS256) != (kid == "") || kid != s.KeyID() {
				t.Errorf("kid = %q (signer %q)", kid, s.KeyID())
			}
			payload := decodePayload(t, tok)
			jti, _ := payload["jti"].(string)
			if b, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(b) != 16 {
				t.Errorf("jti %q is not 16 random bytes", jti)
			}
			delete(payload, "jti")
			want := map[string]any{
				"iss": testIssuer, "sub": "user-1", "aud": "inventory",
				"iat": float64(testNow.Unix()), "exp": float64(testNow.Add(DefaultTTL).Unix()),
				"roles": []any{"branch-manager"}, "tid": "tid-1", "sid": "sid-hash", "branches": []any{"1"},
				"email": "m@example.com", "name": "Max Manager",
			}
			if d := cmp.Diff(want, payload); d != "" {
				t.Errorf("payload (-want +got):\n%s", d)
			}
		})
	}
}

func decodePayload(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAnonymousAndTTL(t *testing.T) {
	t.Parallel()
	cfg := configFor(t, ES256)
	cfg.TTL = 5 * time.Minute
	s, err := NewSigner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := s.Mint(Claims{Subject: Anonymous, Audience: "catalog"})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(testNow.Add(5 * time.Minute)) {
		t.Errorf("exp = %v", exp)
	}
	p := decodePayload(t, tok)
	for _, k := range []string{"roles", "tid", "sid", "branches", "email", "name"} {
		if _, ok := p[k]; ok {
			t.Errorf("anonymous token carries %q", k)
		}
	}
	if p["sub"] != Anonymous {
		t.Errorf("sub = %v", p["sub"])
	}
}

func TestMintRejectsIncompleteClaims(t *testing.T) {
	t.Parallel()
	s, err := NewSigner(configFor(t, ES256))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Claims{{Audience: "catalog"}, {Subject: "u"}} {
		if _, _, err := s.Mint(c); !errors.Is(err, ErrClaims) {
			t.Errorf("Mint(%+v) err = %v; want ErrClaims", c, err)
		}
	}
}

func TestNewSignerErrors(t *testing.T) {
	t.Parallel()
	ec := testKeys.get(t, "ec1")
	tests := []struct {
		name string
		cfg  func() SignerConfig
		want []string
	}{
		{name: "unknown alg", cfg: func() SignerConfig { c := configFor(t, ES256); c.Alg = "none"; return c }, want: []string{`unknown alg "none"`}},
		{name: "no key without dev", cfg: func() SignerConfig { c := configFor(t, ES256); c.KeyPEMs = nil; return c }, want: []string{"needs at least one PEM private key"}},
		{name: "EC key for RS256", cfg: func() SignerConfig { c := configFor(t, ES256); c.Alg = RS256; return c }, want: []string{"EC key does not fit RS256"}},
		{name: "RSA key for ES256", cfg: func() SignerConfig { c := configFor(t, RS256); c.Alg = ES256; return c }, want: []string{"RSA key does not fit ES256"}},
		{name: "Ed25519 key for ES256", cfg: func() SignerConfig { c := configFor(t, EdDSA); c.Alg = ES256; return c }, want: []string{"Ed25519 key does not fit ES256"}},
		{name: "P-384 for ES256", cfg: func() SignerConfig {
			c := configFor(t, ES256)
			c.KeyPEMs = [][]byte{pkcs8PEM(t, testKeys.get(t, "p384"))}
			return c
		}, want: []string{"ES256 needs P-256"}},
		{name: "short RSA key", cfg: func() SignerConfig {
			c := configFor(t, RS256)
			c.KeyPEMs = [][]byte{pkcs8PEM(t, testKeys.get(t, "rsa1024"))}
			return c
		}, want: []string{"at least 2048 needed"}},
		{name: "second key of another alg", cfg: func() SignerConfig {
			c := configFor(t, ES256)
			c.KeyPEMs = append(c.KeyPEMs, pkcs8PEM(t, testKeys.get(t, "rsa1")))
			return c
		}, want: []string{"key 1: RSA key does not fit ES256"}},
		{name: "duplicate key", cfg: func() SignerConfig {
			c := configFor(t, ES256)
			c.KeyPEMs = append(c.KeyPEMs, sec1PEM(t, ec.(*ecdsa.PrivateKey)))
			return c
		}, want: []string{"key 1: same key as key 0"}},
		{name: "not PEM", cfg: func() SignerConfig { c := configFor(t, ES256); c.KeyPEMs = [][]byte{[]byte("nope")}; return c }, want: []string{"no PEM private key"}},
		{name: "public key PEM", cfg: func() SignerConfig {
			c := configFor(t, ES256)
			der, _ := x509.MarshalPKIXPublicKey(ec.Public())
			c.KeyPEMs = [][]byte{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
			return c
		}, want: []string{`PEM block "PUBLIC KEY" is not a private key`}},
		{name: "encrypted key", cfg: func() SignerConfig {
			c := configFor(t, ES256)
			c.KeyPEMs = [][]byte{pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})}
			return c
		}, want: []string{"encrypted private keys are not supported"}},
		{name: "short HMAC secret", cfg: func() SignerConfig { c := configFor(t, HS256); c.HMACSecret = []byte("short"); return c }, want: []string{"HS256 secret has 5 bytes; at least 32 needed"}},
		{name: "HS256 with PEM", cfg: func() SignerConfig { c := configFor(t, HS256); c.KeyPEMs = configFor(t, ES256).KeyPEMs; return c }, want: []string{"HS256 takes a shared secret"}},
		{name: "secret for ES256", cfg: func() SignerConfig { c := configFor(t, ES256); c.HMACSecret = hmacSecret; return c }, want: []string{"only used with HS256"}},
		{name: "every problem at once", cfg: func() SignerConfig {
			return SignerConfig{Alg: HS256, HMACSecret: []byte("x"), TTL: -time.Second}
		}, want: []string{"TTL -1s is negative", "issuer is required", "HS256 secret has 1 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewSigner(tt.cfg())
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v; want ErrConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestKeyFormats(t *testing.T) {
	t.Parallel()
	ec := testKeys.get(t, "ec1").(*ecdsa.PrivateKey)
	rsaKey := testKeys.get(t, "rsa1").(*rsa.PrivateKey)
	tests := []struct {
		name string
		alg  string
		pem  []byte
	}{
		{name: "EC PKCS8", alg: ES256, pem: pkcs8PEM(t, ec)},
		{name: "EC SEC1 with parameters", alg: ES256, pem: sec1PEM(t, ec)},
		{name: "RSA PKCS8", alg: RS256, pem: pkcs8PEM(t, rsaKey)},
		{name: "RSA PKCS1", alg: RS256, pem: pkcs1PEM(rsaKey)},
		{name: "Ed25519 PKCS8", alg: EdDSA, pem: pkcs8PEM(t, testKeys.get(t, "ed1"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := configFor(t, tt.alg)
			cfg.KeyPEMs = [][]byte{tt.pem}
			s, err := NewSigner(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Mint(Claims{Subject: "u", Audience: "a"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	first, second := testKeys.get(t, "ec1"), testKeys.get(t, "ec2")
	cfg := configFor(t, ES256)
	cfg.KeyPEMs = [][]byte{pkcs8PEM(t, first), pkcs8PEM(t, second)}
	s, err := NewSigner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys := publicKeys(t, s.JWKS())
	if len(keys) != 2 {
		t.Fatalf("JWKS has %d keys; want both", len(keys))
	}
	k1, _ := newSigningKey(ES256, first)
	k2, _ := newSigningKey(ES256, second)
	if s.KeyID() != k1.jwk.Kid {
		t.Fatalf("signing kid %q; want the first key's %q", s.KeyID(), k1.jwk.Kid)
	}
	if _, ok := keys[k2.jwk.Kid]; !ok {
		t.Fatal("second key not published")
	}
	tok, _, err := s.Mint(Claims{Subject: "u", Audience: "a"})
	if err != nil {
		t.Fatal(err)
	}
	// Verifies with the first key only.
	for kid, want := range map[string]bool{k1.jwk.Kid: true, k2.jwk.Kid: false} {
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return keys[kid], nil },
			jwt.WithValidMethods([]string{ES256}), jwt.WithTimeFunc(func() time.Time { return testNow }))
		if (err == nil) != want {
			t.Errorf("verify with %s: err = %v; want ok=%v", kid, err, want)
		}
	}
}

// TestThumbprintRFC7638 checks the kid computation against RFC 7638 section 3.1.
func TestThumbprintRFC7638(t *testing.T) {
	t.Parallel()
	j := jwk{
		Kty: "RSA", E: "AQAB",
		N: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
	}
	if got, want := thumbprint(j), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint = %q; want %q", got, want)
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	hs, err := NewSigner(configFor(t, HS256))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(hs.JWKS()); got != `{"keys":[]}` {
		t.Errorf("HS256 JWKS = %s", got)
	}
	for _, alg := range []string{ES256, RS256, EdDSA} {
		s, err := NewSigner(configFor(t, alg))
		if err != nil {
			t.Fatal(err)
		}
		var set struct{ Keys []map[string]string }
		if err := json.Unmarshal(s.JWKS(), &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("%s JWKS: %v %s", alg, err, s.JWKS())
		}
		k := set.Keys[0]
		if k["alg"] != alg || k["use"] != "sig" || k["kid"] != s.KeyID() {
			t.Errorf("%s jwk = %v", alg, k)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("%s JWKS publishes private member %q", alg, private)
			}
		}
	}
}

func TestDevGeneratesKey(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"", ES256, EdDSA, HS256} {
		s, err := NewSigner(SignerConfig{Alg: alg, Dev: true, Issuer: testIssuer})
		if err != nil {
			t.Fatalf("%q: %v", alg, err)
		}
		if _, _, err := s.Mint(Claims{Subject: "u", Audience: "a"}); err != nil {
			t.Fatalf("%q: %v", alg, err)
		}
	}
	a, _ := NewSigner(SignerConfig{Dev: true, Issuer: testIssuer})
	b, _ := NewSigner(SignerConfig{Dev: true, Issuer: testIssuer})
	if a.Alg() != ES256 || a.KeyID() == b.KeyID() {
		t.Errorf("dev keys: alg %s, kids %s %s", a.Alg(), a.KeyID(), b.KeyID())
	}
}

func BenchmarkMint(b *testing.B) {
	for _, alg := range []string{ES256, RS256, EdDSA, HS256} {
		b.Run(alg, func(b *testing.B) {
			s, err := NewSigner(configFor(b, alg))
			if err != nil {
				b.Fatal(err)
			}
			c := Claims{Subject: "user-1", Audience: "inventory", Roles: []string{"admin"}, SessionID: "sid", TenantID: "tid"}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Mint(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
