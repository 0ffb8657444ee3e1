package jwtauth

import "errors"

// Sentinel errors. Verify wraps one of them (and, for token failures, also
// ErrInvalidToken) so callers can use errors.Is. None of them is ever shown to
// a client: the middleware answers with a generic body.
var (
	// ErrNoToken: the request carried no Authorization header.
	ErrNoToken = errors.New("jwtauth: no token")
	// ErrMalformed: the header or the token is not well formed.
	ErrMalformed = errors.New("jwtauth: malformed token")
	// ErrInvalidToken: the token failed verification (parent of the more
	// specific token errors below).
	ErrInvalidToken = errors.New("jwtauth: invalid token")
	// ErrUnknownKey: no trusted key matches the token's kid/alg.
	ErrUnknownKey = errors.New("jwtauth: unknown key")
	// ErrExpired: the token's exp is in the past (beyond leeway).
	ErrExpired = errors.New("jwtauth: token expired")
	// ErrNotYetValid: nbf or iat lies in the future beyond leeway.
	ErrNotYetValid = errors.New("jwtauth: token not yet valid")
	// ErrMissingClaim: a required claim (exp, aud) is absent.
	ErrMissingClaim = errors.New("jwtauth: required claim missing")
	// ErrUntrustedIssuer: the iss claim names no configured issuer.
	ErrUntrustedIssuer = errors.New("jwtauth: untrusted issuer")
	// ErrAudience: the aud claim does not contain the expected audience.
	ErrAudience = errors.New("jwtauth: audience mismatch")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("jwtauth: bad signature")
	// ErrIDToken: the token is an OpenID Connect id_token, which proves a
	// login to a client and is never a bearer credential for an API.
	ErrIDToken = errors.New("jwtauth: id_token is not an access token")
	// ErrTooLarge: the token exceeds MaxTokenSize.
	ErrTooLarge = errors.New("jwtauth: token too large")
	// ErrNotReady: an issuer's key set has never been loaded, or a token's
	// kid is not in it and the key set could not be refetched.
	ErrNotReady = errors.New("jwtauth: keys not loaded")
	// ErrRevoked: the revocation feed revokes the token's session (sid) or
	// its subject for tokens issued until after its iat (see
	// RevocationConfig).
	ErrRevoked = errors.New("jwtauth: token revoked")
	// ErrRevocationsUnavailable: the revocation feed has not been read
	// within its staleness bound, so no token can be known not to be
	// revoked. Not a token error: the middleware answers 503.
	ErrRevocationsUnavailable = errors.New("jwtauth: revocation feed unavailable")
	// ErrRevokedNearCreation: a revocation of a session's user, or the
	// application-wide cutoff, fell within a second of the session's
	// creation (RevocationFollower.CheckSession), too close to tell which
	// came first; the session's store decides.
	ErrRevokedNearCreation = errors.New("jwtauth: revocation near the session's creation")
	// ErrConfig: the configuration or an issuer spec is invalid.
	ErrConfig = errors.New("jwtauth: invalid config")
)
