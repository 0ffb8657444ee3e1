package jwtauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithm names accepted in IssuerConfig.Algorithms.
const (
	algRS256 = "RS256"
	algRS384 = "RS384"
	algRS512 = "RS512"
	algPS256 = "PS256"
	algPS384 = "PS384"
	algPS512 = "PS512"
	algES256 = "ES256"
	algES384 = "ES384"
	algES512 = "ES512"
	algEdDSA = "EdDSA"
	algHS256 = "HS256"
)

// asymmetricAlgs are the algorithms a JWKS issuer may use.
var asymmetricAlgs = []string{algRS256, algRS384, algRS512, algPS256, algPS384, algPS512, algES256, algES384, algES512, algEdDSA}

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// minHMACSecret is the shortest HS256 secret accepted (RFC 7518 section 3.2).
const minHMACSecret = 32

// key is one verification key bound to exactly one algorithm.
type key struct {
	kid      string
	alg      string
	material any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte (HS256)
}

func supportedAlg(alg string) bool {
	return alg == algHS256 || slices.Contains(asymmetricAlgs, alg)
}

// checkKeyAlg reports whether material is the right key type for alg, so a
// key can never be used with another algorithm family.
func checkKeyAlg(alg string, material any) error {
	ok := false
	switch k := material.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is shorter than %d", k.N.BitLen(), minRSABits)
		}
		ok = slices.Contains([]string{algRS256, algRS384, algRS512, algPS256, algPS384, algPS512}, alg)
	case *ecdsa.PublicKey:
		ok = ecAlg(k.Curve) == alg
	case ed25519.PublicKey:
		ok = alg == algEdDSA && len(k) == ed25519.PublicKeySize
	case []byte:
		ok = alg == algHS256
	}
	if !ok {
		return fmt.Errorf("key type %T cannot be used with %s", material, alg)
	}
	return nil
}

func ecAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return algES256
	case elliptic.P384():
		return algES384
	case elliptic.P521():
		return algES512
	}
	return ""
}

// keyFromPublic binds a PEM public key to the one algorithm its type implies.
func keyFromPublic(pub any) (*key, error) {
	var alg string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		alg = algRS256
	case *ecdsa.PublicKey:
		alg = ecAlg(k.Curve)
	case ed25519.PublicKey:
		alg = algEdDSA
	}
	if alg == "" {
		return nil, fmt.Errorf("unsupported public key type %T", pub)
	}
	if err := checkKeyAlg(alg, pub); err != nil {
		return nil, err
	}
	return &key{alg: alg, material: pub}, nil
}

// parsePEMKeys parses every PEM block in data: PUBLIC KEY (PKIX), RSA PUBLIC
// KEY (PKCS#1) or CERTIFICATE. Private keys are refused.
func parsePEMKeys(data []byte) ([]*key, error) {
	var keys []*key
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var (
			pub any
			err error
		)
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %q: %w", block.Type, err)
		}
		k, err := keyFromPublic(pub)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("data outside PEM blocks")
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return keys, nil
}

// jwk is one entry of a JSON Web Key Set (RFC 7517).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS parses a JWK Set and keeps the signature keys whose algorithm is
// in allowed. It fails when the document is not a key set or holds no usable
// key, so a garbage answer never replaces a good key set. skipped counts keys
// ignored (unsupported type, use=enc, disallowed alg).
func parseJWKS(body []byte, allowed []string) (keys []*key, skipped int, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, fmt.Errorf("not a JWK set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, 0, errors.New("JWK set has no keys")
	}
	for _, raw := range set.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			skipped++
			continue
		}
		ks, err := j.keys(allowed)
		if err != nil || len(ks) == 0 {
			skipped++
			continue
		}
		keys = append(keys, ks...)
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("JWK set has no usable signature key (%d skipped)", skipped)
	}
	return keys, skipped, nil
}

var b64 = base64.RawURLEncoding.Strict()

// rsaAlgs are the algorithms an RSA key without an alg member may serve.
var rsaAlgs = []string{algRS256, algRS384, algRS512, algPS256, algPS384, algPS512}

// keys returns the key bound to the JWK's alg or, when the JWK names none
// (alg is optional, RFC 7517 section 4.4), to each algorithm of its family
// that allowed holds: an EC key's curve and an OKP key's type imply exactly
// one; an RSA key serves RS256/384/512 and PS256/384/512. A JWK without a
// kid is kept (OpenID Connect Core 10.1 lets a provider with a single key
// leave it out).
func (j *jwk) keys(allowed []string) ([]*key, error) {
	k, err := j.key()
	if err != nil {
		return nil, err
	}
	if j.Alg != "" || k.alg != algRS256 {
		if !slices.Contains(allowed, k.alg) {
			return nil, nil
		}
		return []*key{k}, nil
	}
	var out []*key
	for _, a := range rsaAlgs {
		if slices.Contains(allowed, a) {
			out = append(out, &key{kid: k.kid, alg: a, material: k.material})
		}
	}
	return out, nil
}

func (j *jwk) key() (*key, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("jwk use %q", j.Use)
	}
	var (
		pub any
		alg string
	)
	switch j.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(j.N)
		e, err2 := b64.DecodeString(j.E)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		if len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA exponent")
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 || exp%2 == 0 {
			return nil, errors.New("bad RSA exponent")
		}
		pub, alg = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}, algRS256
	case "EC":
		var c elliptic.Curve
		switch j.Crv {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return nil, fmt.Errorf("EC curve %q", j.Crv)
		}
		x, err1 := b64.DecodeString(j.X)
		y, err2 := b64.DecodeString(j.Y)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		size := (c.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, errors.New("bad EC coordinate length")
		}
		k, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, err
		}
		pub, alg = k, ecAlg(c)
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("OKP curve %q", j.Crv)
		}
		x, err := b64.DecodeString(j.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key length")
		}
		pub, alg = ed25519.PublicKey(x), algEdDSA
	default:
		// Symmetric ("oct") keys are never accepted from a JWKS.
		return nil, fmt.Errorf("jwk kty %q", j.Kty)
	}
	if j.Alg != "" {
		alg = j.Alg
	}
	if err := checkKeyAlg(alg, pub); err != nil {
		return nil, err
	}
	return &key{kid: j.Kid, alg: alg, material: pub}, nil
}

// staticKeys indexes PEM or HMAC keys by algorithm. Such keys have no kid of
// their own, so a token's kid is ignored and every key of the token's
// algorithm is tried (there are only ever a few).
type staticKeys map[string]any // alg -> key material or jwt.VerificationKeySet

func newStaticKeys(keys []*key) staticKeys {
	byAlg := map[string][]jwt.VerificationKey{}
	for _, k := range keys {
		byAlg[k.alg] = append(byAlg[k.alg], k.material)
	}
	s := staticKeys{}
	for alg, ks := range byAlg {
		if len(ks) == 1 {
			s[alg] = ks[0]
		} else {
			s[alg] = jwt.VerificationKeySet{Keys: ks}
		}
	}
	return s
}

// keySet is an immutable set of keys fetched from a JWKS URL.
type keySet struct {
	keys []*key
}

// has reports whether k (the very key, not an equal one) is in the set.
func (s *keySet) has(k *key) bool {
	return s != nil && slices.Contains(s.keys, k)
}

// carryOver returns keys with every key that is unchanged from s (same kid,
// alg and public key) replaced by s's own *key, so tokens cached under it
// stay valid across a refresh that keeps it.
func (s *keySet) carryOver(keys []*key) []*key {
	if s == nil {
		return keys
	}
	for i, k := range keys {
		for _, old := range s.keys {
			if old.kid == k.kid && old.alg == k.alg && sameMaterial(old.material, k.material) {
				keys[i] = old
				break
			}
		}
	}
	return keys
}

func sameMaterial(a, b any) bool {
	pa, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(b)
}

// find returns the key with kid, only if it is bound to alg.
func (s *keySet) find(kid, alg string) (*key, bool) {
	if s == nil {
		return nil, false
	}
	for _, k := range s.keys {
		if k.kid == kid && k.alg == alg {
			return k, true
		}
	}
	return nil, false
}

// only returns the set's key for alg when the set holds a single public key
// (OpenID Connect Core 10.1: a kid is required only when a set holds several
// keys) and either the token names no kid or the key has none. An RSA key
// without an alg member counts once although it serves several algorithms.
func (s *keySet) only(kid, alg string) (*key, bool) {
	if s == nil || len(s.keys) == 0 {
		return nil, false
	}
	first := s.keys[0]
	var found *key
	for _, k := range s.keys {
		if k.kid != first.kid || !sameMaterial(k.material, first.material) {
			return nil, false // several keys: the token must name one
		}
		if k.alg == alg {
			found = k
		}
	}
	if found == nil || (kid != "" && found.kid != "") {
		return nil, false
	}
	return found, true
}
