package jwtauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the verified claims of a token that handlers may read.
type Claims struct {
	Issuer            string           `json:"iss"`
	Subject           string           `json:"sub"`
	Audience          jwt.ClaimStrings `json:"aud"`
	ExpiresAt         *jwt.NumericDate `json:"exp"`
	IssuedAt          *jwt.NumericDate `json:"iat,omitempty"`
	NotBefore         *jwt.NumericDate `json:"nbf,omitempty"`
	ID                string           `json:"jti,omitempty"`
	Roles             []string         `json:"roles,omitempty"`
	TenantID          string           `json:"tid,omitempty"`
	SessionID         string           `json:"sid,omitempty"`
	Branches          Branches         `json:"branches,omitempty"`
	ApplicationID     string           `json:"applicationId,omitempty"`
	Email             string           `json:"email,omitempty"`
	Name              string           `json:"name,omitempty"`
	PreferredUsername string           `json:"preferred_username,omitempty"`
	Nonce             string           `json:"nonce,omitempty"`
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

// Branches is a list of branch ids. It unmarshals from a JSON array whose
// elements are strings or integers (FusionAuth registration data may hold
// either), or from a single string or number.
type Branches []string

// UnmarshalJSON implements json.Unmarshaler.
func (b *Branches) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		*b = nil
		return nil
	}
	var raw []json.RawMessage
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("jwtauth: branches: %w", err)
		}
	} else {
		raw = []json.RawMessage{data}
	}
	out := make(Branches, 0, len(raw))
	for _, r := range raw {
		s, err := branchID(r)
		if err != nil {
			return err
		}
		out = append(out, s)
	}
	*b = out
	return nil
}

func branchID(r json.RawMessage) (string, error) {
	r = bytes.TrimSpace(r)
	if len(r) > 0 && r[0] == '"' {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return "", fmt.Errorf("jwtauth: branches: %w", err)
		}
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(r, &n); err != nil {
		return "", fmt.Errorf("jwtauth: branches: element is neither string nor number: %w", err)
	}
	return n.String(), nil
}
