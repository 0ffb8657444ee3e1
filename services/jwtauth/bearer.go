package jwtauth

// BearerToken extracts the token from an Authorization header value.
func BearerToken(header string) (string, error) {
	return "", ErrNoToken
}
