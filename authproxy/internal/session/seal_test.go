package session_test

import (
	"bytes"
	"testing"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// purposes are every Purpose the package declares.
var purposes = []session.Purpose{session.PurposeSession, session.PurposeLoginState}

func newSealer(t *testing.T, secret, salt string, p session.Purpose) *session.Sealer {
	t.Helper()
	s, err := session.NewSealer([]byte(secret), []byte(salt), p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSealPurposesApart: a value sealed for one purpose never opens for
// another, even under the same secret, salt and additional data: a session
// record is never read as a login-state cookie, nor a login-state cookie
// as a session record.
func TestSealPurposesApart(t *testing.T) {
	t.Parallel()
	const secret, salt = "0123456789abcdef0123456789abcdef", "salt"
	aad, plain := []byte("state-or-key"), []byte(`{"s":"state","uid":"u1"}`)
	for _, sealedFor := range purposes {
		sealed := newSealer(t, secret, salt, sealedFor).Seal(aad, plain)
		for _, openedFor := range purposes {
			got, err := newSealer(t, secret, salt, openedFor).Open(aad, sealed)
			if sealedFor == openedFor {
				if err != nil || !bytes.Equal(got, plain) {
					t.Errorf("%q: sealed value does not open for its own purpose: %q, %v", sealedFor, got, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("a value sealed for %q opens for %q", sealedFor, openedFor)
			}
		}
	}
	seen := map[session.Purpose]bool{}
	for _, p := range purposes {
		if seen[p] || p == "" {
			t.Errorf("purpose %q is empty or declared twice", p)
		}
		seen[p] = true
	}
}

// TestSealRefusesTampering: the sealed value opens only with its own
// secret, salt and additional data, and not once a byte has changed.
func TestSealRefusesTampering(t *testing.T) {
	t.Parallel()
	const secret, salt = "0123456789abcdef0123456789abcdef", "salt"
	aad, plain := []byte("aad"), []byte("plain text")
	s := newSealer(t, secret, salt, session.PurposeLoginState)
	sealed := s.Seal(aad, plain)
	if again := s.Seal(aad, plain); bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same value are equal: the nonce is not random")
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		sealer *session.Sealer
		aad    []byte
		sealed []byte
	}{
		{name: "other secret", sealer: newSealer(t, "another-secret-another-secret-xx", salt, session.PurposeLoginState), aad: aad, sealed: sealed},
		{name: "other salt", sealer: newSealer(t, secret, "other", session.PurposeLoginState), aad: aad, sealed: sealed},
		{name: "other additional data", sealer: s, aad: []byte("other"), sealed: sealed},
		{name: "version byte", sealer: s, aad: aad, sealed: flip(0)},
		{name: "nonce", sealer: s, aad: aad, sealed: flip(1)},
		{name: "ciphertext", sealer: s, aad: aad, sealed: flip(len(sealed) / 2)},
		{name: "tag", sealer: s, aad: aad, sealed: flip(len(sealed) - 1)},
		{name: "truncated", sealer: s, aad: aad, sealed: sealed[:10]},
		{name: "empty", sealer: s, aad: aad, sealed: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := tt.sealer.Open(tt.aad, tt.sealed); err == nil {
				t.Fatalf("opened: %q", got)
			}
		})
	}
	if got, err := s.Open(aad, sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("untouched value: %q, %v", got, err)
	}
}
