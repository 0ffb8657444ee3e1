// Package token mints the gateway tokens that authproxy hands the ingress for
// upstream services: short-lived JWTs signed with authproxy's own key (ES256
// by default; RS256, EdDSA, or HS256 with a shared secret for installs that
// follow the original tutorial), with the public keys published as a JWKS
// document. Several keys may be configured for rotation: the first signs,
// all are published. A bounded cache keeps minted tokens per session and
// audience and hands them out again until a quarter of their lifetime is left.
package token

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTTL is the gateway token lifetime when SignerConfig.TTL is zero.
const DefaultTTL = 60 * time.Second

// maxSignatureLen sizes Mint's buffer: an RS256 signature by a 4096-bit
// key (a larger key only makes the buffer grow once).
const maxSignatureLen = 512

// Anonymous is the subject of tokens minted for requests without a user.
const Anonymous = "anonymous"

// Errors.
var (
	ErrConfig = errors.New("token: invalid signer config")
	ErrClaims = errors.New("token: invalid claims")
)

// SignerConfig configures a Signer.
type SignerConfig struct {
	Alg        string        // ES256 (default), RS256, EdDSA or HS256
	KeyPEMs    [][]byte      // PEM private keys; the first signs, all are published (not for HS256)
	HMACSecret []byte        // HS256 only; at least 32 bytes
	Dev        bool          // with no key configured, generate one in memory (development only)
	Issuer     string        // iss: authproxy's public URL
	TTL        time.Duration // token lifetime; 0 = DefaultTTL
	Now        func() time.Time
}

// Claims are the per-request inputs of a gateway token.
type Claims struct {
	Subject   string   // FusionAuth user id, or Anonymous
	Audience  string   // the rule's upstream
	Roles     []string // the user's roles for the application
	TenantID  string
	SessionID string // a hash of the session id (never the id itself)
	Branches  []string
	Email     string
	Name      string
	// OrigIssuedAt, for a token minted from a bearer access token, is that
	// token's iat (unix seconds), published as orig_iat: a revocation of
	// the subject or the application-wide cutoff then applies to the
	// gateway token as to the access token (jwtauth compares the earlier of
	// iat and orig_iat), however fresh its own iat. 0 = none.
	OrigIssuedAt int64
}

// wireClaims is the JSON payload. Field names follow services/shared/jwtauth.Claims.
type wireClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  string   `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	ID        string   `json:"jti"`
	Roles     []string `json:"roles,omitempty"`
	TenantID  string   `json:"tid,omitempty"`
	SessionID string   `json:"sid,omitempty"`
	Branches  []string `json:"branches,omitempty"`
	Email     string   `json:"email,omitempty"`
	Name      string   `json:"name,omitempty"`
	OrigIAT   int64    `json:"orig_iat,omitempty"`
}

func (c *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.ExpiresAt, 0)), nil
}
func (c *wireClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.IssuedAt, 0)), nil
}
func (c *wireClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (c *wireClaims) GetIssuer() (string, error)              { return c.Issuer, nil }
func (c *wireClaims) GetSubject() (string, error)             { return c.Subject, nil }
func (c *wireClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// Signer mints gateway tokens. It is immutable and safe for concurrent use.
type Signer struct {
	alg    string
	method jwt.SigningMethod
	key    any    // what method.Sign needs
	kid    string // "" for HS256
	head   string // the encoded JOSE header: the same for every token
	jwks   []byte
	issuer string
	ttl    time.Duration
	now    func() time.Time
}

// NewSigner validates cfg and loads its keys. Every problem is reported at
// once.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	var problems []error
	s := &Signer{alg: cfg.Alg, issuer: cfg.Issuer, ttl: cfg.TTL, now: cfg.Now}
	if s.alg == "" {
		s.alg = ES256
	}
	if s.ttl == 0 {
		s.ttl = DefaultTTL
	}
	if s.ttl < 0 {
		problems = append(problems, fmt.Errorf("TTL %s is negative", cfg.TTL))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Issuer == "" {
		problems = append(problems, errors.New("issuer is required"))
	}

	var keys []signingKey
	switch s.alg {
	case HS256:
		s.method = jwt.SigningMethodHS256
		if len(cfg.KeyPEMs) > 0 {
			problems = append(problems, errors.New("HS256 takes a shared secret, not PEM keys"))
		}
		secret := cfg.HMACSecret
		if len(secret) == 0 && cfg.Dev {
			secret = make([]byte, minHMACSecret)
			_, _ = rand.Read(secret) // never fails (crypto/rand)
		}
		if len(secret) < minHMACSecret {
			problems = append(problems, fmt.Errorf("HS256 secret has %d bytes; at least %d needed", len(secret), minHMACSecret))
		}
		s.key = bytes.Clone(secret)
	case ES256, RS256, EdDSA:
		s.method = jwt.GetSigningMethod(s.alg)
		if len(cfg.HMACSecret) > 0 {
			problems = append(problems, fmt.Errorf("an HMAC secret is only used with HS256, not %s", s.alg))
		}
		seen := map[string]int{}
		for i, p := range cfg.KeyPEMs {
			privs, err := parsePrivateKeys(p)
			if err != nil {
				problems = append(problems, fmt.Errorf("key %d: %w", i, err))
				continue
			}
			for _, priv := range privs {
				k, err := newSigningKey(s.alg, priv)
				if err != nil {
					problems = append(problems, fmt.Errorf("key %d: %w", i, err))
					continue
				}
				if j, dup := seen[k.jwk.Kid]; dup {
					problems = append(problems, fmt.Errorf("key %d: same key as key %d", i, j))
					continue
				}
				seen[k.jwk.Kid] = i
				keys = append(keys, k)
			}
		}
		if len(cfg.KeyPEMs) == 0 {
			if !cfg.Dev {
				problems = append(problems, fmt.Errorf("%s needs at least one PEM private key (or dev mode)", s.alg))
			} else if priv, err := generateKey(s.alg); err != nil {
				problems = append(problems, err)
			} else if k, err := newSigningKey(s.alg, priv); err != nil {
				problems = append(problems, err)
			} else {
				keys = append(keys, k)
			}
		}
	default:
		problems = append(problems, fmt.Errorf("unknown alg %q (ES256, RS256, EdDSA or HS256)", cfg.Alg))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrConfig, errors.Join(problems...))
	}

	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, k.jwk)
	}
	jwks, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("token: jwks: %w", err)
	}
	s.jwks = jwks
	if len(keys) > 0 {
		s.key = keys[0].private
		s.kid = keys[0].jwk.Kid
	}
	head := jwt.New(s.method).Header
	if s.kid != "" {
		head["kid"] = s.kid
	}
	hj, err := json.Marshal(head)
	if err != nil {
		return nil, fmt.Errorf("token: header: %w", err)
	}
	s.head = base64.RawURLEncoding.EncodeToString(hj)
	return s, nil
}

// Alg returns the signing algorithm.
func (s *Signer) Alg() string { return s.alg }

// KeyID returns the kid of the signing key ("" for HS256).
func (s *Signer) KeyID() string { return s.kid }

// TTL returns the token lifetime.
func (s *Signer) TTL() time.Duration { return s.ttl }

// JWKS returns the public key set as JSON (`{"keys":[]}` for HS256, whose
// secret is never published).
func (s *Signer) JWKS() []byte { return bytes.Clone(s.jwks) }

// Mint signs a token for c and returns it with its expiry. The header
// carries alg, typ JWT and the signing key's kid; the payload iss, sub, aud,
// exp (now + TTL), iat, a random jti, the optional user claims and orig_iat.
func (s *Signer) Mint(c Claims) (string, time.Time, error) {
	if c.Subject == "" {
		return "", time.Time{}, fmt.Errorf("%w: subject is required (a user id or %q)", ErrClaims, Anonymous)
	}
	if c.Audience == "" {
		return "", time.Time{}, fmt.Errorf("%w: audience is required", ErrClaims)
	}
	if c.OrigIssuedAt < 0 {
		return "", time.Time{}, fmt.Errorf("%w: orig_iat %d is negative", ErrClaims, c.OrigIssuedAt)
	}
	now := s.now().Truncate(time.Second)
	exp := now.Add(s.ttl)
	var jti [16]byte
	_, _ = rand.Read(jti[:]) // never fails (crypto/rand)
	// What jwt.Token.SignedString does, with the header encoded once.
	payload, err := json.Marshal(&wireClaims{
		Issuer:    s.issuer,
		Subject:   c.Subject,
		Audience:  c.Audience,
		ExpiresAt: exp.Unix(),
		IssuedAt:  now.Unix(),
		ID:        b64(jti[:]),
		Roles:     c.Roles,
		TenantID:  c.TenantID,
		SessionID: c.SessionID,
		Branches:  c.Branches,
		Email:     c.Email,
		Name:      c.Name,
		OrigIAT:   c.OrigIssuedAt,
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: mint: %w", err)
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(s.head)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(maxSignatureLen))
	buf = append(append(buf, s.head...), '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := s.method.Sign(string(buf), s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: mint: %w", err)
	}
	signed := string(enc.AppendEncode(append(buf, '.'), sig))
	return signed, exp, nil
}
