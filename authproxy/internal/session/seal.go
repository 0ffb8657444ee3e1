package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// Purpose is what a sealed value is for. It is the HKDF info of the key
// that seals it, so a value sealed for one purpose never opens for another,
// whatever secret and salt both use: a session record is never read as a
// login state, nor a login state as a session record. Every purpose is
// declared here, each with its own label.
type Purpose string

const (
	// PurposeSession seals session records in the store, under the
	// cookie's secret with salt SHA-256(id) (see the package comment).
	PurposeSession Purpose = "gatewarden session v1"
	// PurposeLoginState seals the login-state cookies that carry a login
	// from /oauth2/start to /oauth2/callback, under the cookie-secret.
	PurposeLoginState Purpose = "gatewarden login state v3"
)

const sealVersion = 1

// errOpen: the value does not open with this key (wrong secret, salt,
// purpose or additional data, or tampered). Callers map it to "not found"
// or "not bound".
var errOpen = errors.New("cannot open sealed value")

// Sealer encrypts and authenticates values with AES-256-GCM under the key
// HKDF-SHA256(secret, salt, purpose). A sealed value is version (1 byte) ||
// random nonce || ciphertext and tag. It is authproxy's one sealing
// implementation; a Sealer is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the key for purpose from secret and salt.
func NewSealer(secret, salt []byte, purpose Purpose) (*Sealer, error) {
	key, err := hkdf.Key(sha256.New, secret, salt, string(purpose), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain; aad (additional data) binds the sealed value to its
// place (a Redis key, a login's state) without being stored in it.
func (s *Sealer) Seal(aad, plain []byte) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1:])                    // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(out, out[1:], plain, aad) //nolint:gosec // G407: the nonce is random (rand.Read above), not hard-coded
}

// Open returns the plain text of sealed, or an error when it was sealed
// under another key or additional data, or has been tampered with.
func (s *Sealer) Open(aad, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errOpen
	}
	plain, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad)
	if err != nil {
		return nil, errOpen
	}
	return plain, nil
}
