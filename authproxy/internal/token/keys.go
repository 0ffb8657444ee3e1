package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// Supported algorithms.
const (
	ES256 = "ES256"
	RS256 = "RS256"
	EdDSA = "EdDSA"
	HS256 = "HS256"
)

const (
	minRSABits      = 2048
	minHMACSecret   = 32
	devRSABits      = 2048
	jwkUseSignature = "sig"
)

// jwk is one public key of the JWKS document.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// signingKey is a private key with its published JWK.
type signingKey struct {
	private crypto.Signer
	jwk     jwk
}

// parsePrivateKeys reads every private key in a PEM document (PKCS#8,
// SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY"); "EC PARAMETERS" blocks
// (as written by `openssl ecparam -genkey`) are skipped.
func parsePrivateKeys(data []byte) ([]crypto.Signer, error) {
	var keys []crypto.Signer
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var (
			k   any
			err error
		)
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported")
		default:
			return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %q: %w", block.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("PEM block %q: unsupported key type %T", block.Type, k)
		}
		// x509 returns ed25519.PrivateKey by value; keep it that way.
		keys = append(keys, s)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM private key found")
	}
	return keys, nil
}

// newSigningKey checks that key fits alg and builds its JWK.
func newSigningKey(alg string, key crypto.Signer) (signingKey, error) {
	var j jwk
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if alg != ES256 {
			return signingKey{}, fmt.Errorf("EC key does not fit %s", alg)
		}
		if k.Curve != elliptic.P256() {
			return signingKey{}, fmt.Errorf("EC key on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
		pub, err := k.PublicKey.Bytes() // 0x04 || X || Y, fixed width
		if err != nil {
			return signingKey{}, fmt.Errorf("EC public key: %w", err)
		}
		j = jwk{Kty: "EC", Crv: "P-256", X: b64(pub[1:33]), Y: b64(pub[33:65])}
	case *rsa.PrivateKey:
		if alg != RS256 {
			return signingKey{}, fmt.Errorf("RSA key does not fit %s", alg)
		}
		if k.N.BitLen() < minRSABits {
			return signingKey{}, fmt.Errorf("RSA key has %d bits; at least %d needed", k.N.BitLen(), minRSABits)
		}
		j = jwk{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}
	case ed25519.PrivateKey:
		if alg != EdDSA {
			return signingKey{}, fmt.Errorf("Ed25519 key does not fit %s", alg)
		}
		j = jwk{Kty: "OKP", Crv: "Ed25519", X: b64(k.Public().(ed25519.PublicKey))}
	default:
		return signingKey{}, fmt.Errorf("unsupported key type %T", key)
	}
	j.Kid = thumbprint(j)
	j.Alg = alg
	j.Use = jwkUseSignature
	return signingKey{private: key, jwk: j}, nil
}

// thumbprint is the RFC 7638 JWK thumbprint: base64url(SHA-256) of the
// required members in lexicographic order, without whitespace. The member
// values are base64url strings or fixed names, so no JSON escaping is needed.
func thumbprint(j jwk) string {
	var s string
	switch j.Kty {
	case "EC":
		s = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	case "RSA":
		s = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	case "OKP":
		s = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	}
	sum := sha256.Sum256([]byte(s))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// generateKey makes an in-memory key for dev mode.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		return rsa.GenerateKey(rand.Reader, devRSABits)
	case EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("cannot generate a key for %s", alg)
}
