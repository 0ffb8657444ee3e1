package jwtauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the verified claims of a token that handlers may read: the
// registered claims and the ones common to OpenID providers and to
// authproxy's gateway tokens. A service reads a claim of its own, one no
// field here names, with Extra.
type Claims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.ClaimStrings `json:"aud"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	// OrigIssuedAt is set on a gateway token minted from a bearer access
	// token: that token's iat. Revocations compare the earlier of the two.
	OrigIssuedAt      *jwt.NumericDate `json:"orig_iat,omitempty"`
	NotBefore         *jwt.NumericDate `json:"nbf,omitempty"`
	ID                string           `json:"jti,omitempty"`
	Roles             []string         `json:"roles,omitempty"`
	TenantID          string           `json:"tid,omitempty"`
	SessionID         string           `json:"sid,omitempty"`
	ApplicationID     string           `json:"applicationId,omitempty"`
	Email             string           `json:"email,omitempty"`
	Name              string           `json:"name,omitempty"`
	PreferredUsername string           `json:"preferred_username,omitempty"`
	Nonce             string           `json:"nonce,omitempty"`

	// extra holds the verified payload's members that no field reads, as
	// the token carried them (see Extra). Never modified once set, so
	// copies of Claims share it.
	extra map[string]json.RawMessage
}

var _ jwt.Claims = (*Claims)(nil)

// HasAnyRole reports whether the claims carry at least one of roles.
func (c *Claims) HasAnyRole(roles ...string) bool {
	if c == nil {
		return false
	}
	for _, r := range roles {
		if slices.Contains(c.Roles, r) {
			return true
		}
	}
	return false
}

// Extra decodes the claim name, one that no field of Claims reads (a
// service's own claim, such as inventory's "branches"), into v, a pointer as
// for json.Unmarshal, and reports whether the token carried it. The name is
// matched exactly (unlike encoding/json's field matching), and the payload
// it comes from was verified and refused if ambiguous (a member given
// twice). A claim that does not decode into v is an error the service
// decides about; StringList decodes the common list-of-ids claims.
func (c *Claims) Extra(name string, v any) (bool, error) {
	raw, ok := c.extra[name]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("jwtauth: claim %q: %w", name, err)
	}
	return true, nil
}

// GetExpirationTime implements jwt.Claims.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }

// GetIssuedAt implements jwt.Claims.
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return c.IssuedAt, nil }

// GetNotBefore implements jwt.Claims.
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return c.NotBefore, nil }

// GetIssuer implements jwt.Claims.
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return c.Audience, nil }

// StringList is a claim holding a list of ids as strings. It decodes from a
// JSON array whose elements are strings or numbers (FusionAuth registration
// data may hold either; a number keeps its JSON spelling), or from a single
// string or number; null decodes as nil.
type StringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *StringList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		*l = nil
		return nil
	}
	var raw []json.RawMessage
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("jwtauth: string list: %w", err)
		}
	} else {
		raw = []json.RawMessage{data}
	}
	out := make(StringList, 0, len(raw))
	for _, r := range raw {
		s, err := listElement(r)
		if err != nil {
			return err
		}
		out = append(out, s)
	}
	*l = out
	return nil
}

func listElement(r json.RawMessage) (string, error) {
	r = bytes.TrimSpace(r)
	if len(r) > 0 && r[0] == '"' {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return "", fmt.Errorf("jwtauth: string list: %w", err)
		}
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(r, &n); err != nil {
		return "", fmt.Errorf("jwtauth: string list: element is neither string nor number: %w", err)
	}
	return n.String(), nil
}
