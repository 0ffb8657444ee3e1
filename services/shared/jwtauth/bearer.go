package jwtauth

import (
	"fmt"
	"strings"
)

// BearerToken extracts the token from an Authorization header value. It
// accepts exactly "Bearer <token>": one space, the scheme matched
// case-insensitively (RFC 7235 section 2.1: schemes are case-insensitive, so
// "bearer" is accepted), and a token of three non-empty base64url segments no
// longer than MaxTokenSize. An empty header or another scheme (Basic, ...)
// wraps ErrNoToken; anything else wrong wraps ErrMalformed.
func BearerToken(header string) (string, error) {
	if header == "" {
		return "", fmt.Errorf("jwtauth: bearer: %w", ErrNoToken)
	}
	scheme, token, found := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("jwtauth: bearer: not the Bearer scheme: %w", ErrNoToken)
	}
	if !found || token == "" {
		return "", fmt.Errorf("jwtauth: bearer: %w: no token", ErrMalformed)
	}
	if len(token) > MaxTokenSize {
		return "", fmt.Errorf("jwtauth: bearer: %w: %w", ErrMalformed, ErrTooLarge)
	}
	if !validTokenSyntax(token) {
		return "", fmt.Errorf("jwtauth: bearer: %w: not a compact JWS", ErrMalformed)
	}
	return token, nil
}

// validTokenSyntax reports whether s is three non-empty base64url segments
// separated by dots.
func validTokenSyntax(s string) bool {
	dots, seg := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if seg == 0 {
				return false
			}
			dots++
			seg = 0
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			seg++
		default:
			return false
		}
	}
	return dots == 2 && seg > 0
}
