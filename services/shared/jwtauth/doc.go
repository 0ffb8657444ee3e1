// Package jwtauth is the one token verification path every gatewarden
// service uses: catalog and inventory put it in front of every business
// route, and authproxy uses it to check FusionAuth access tokens.
//
// # Shape
//
// The core is net/http middleware, (*Verifier).Middleware, which verifies the
// request's bearer token and stores the claims in the request context under a
// typed unexported key; handlers read them with FromContext. RequireAnyRole
// enforces simple role checks after it (403 JSON); checks that depend on
// data, such as a branch manager's branches, stay in the service. This
// package imports no router: package ginjwt adapts both to gin, on the
// exported cores Authenticate and CheckAnyRole.
//
// # Issuers and keys
//
// A Verifier trusts several issuers at once. Each has exactly one key source
// and a pinned set of algorithms:
//
//   - a JWKS URL: fetched in New, refreshed in the background every
//     JWKSRefresh (default 5m), refetched when a token names an unknown kid
//     (at most once per JWKSRefetch, default 30 s, per issuer; concurrent
//     misses share one fetch). A kid that fetch (or, within JWKSRefetch, the
//     last one) does not find is ErrUnknownKey; when the endpoint could not
//     be reached (network error, timeout, status other than 200) it is
//     ErrNotReady, since a rotated key may be missing only for the outage.
//     The Middleware answers both with 401.
//     A failed or garbage answer (not a key set, no usable signature key)
//     never replaces the last good key set, and neither does one that an
//     https URL redirected to plain http. Bodies over 1 MiB are refused and
//     a fetch times out after 10 s. JWK alg and use are honoured (an RSA
//     key without alg serves RS256/384/512 and PS256/384/512; an EC key the
//     algorithm of its curve), symmetric and encryption keys are ignored. A
//     kid is required unless the set holds a single key (OpenID Connect
//     Core 10.1). If the first
//     fetch fails, New still succeeds but the issuer's tokens are refused and
//     Ready reports the problem until a later fetch succeeds (use Ready for
//     /readyz);
//   - PEM public keys or certificates: RSA (>= 2048 bits) -> RS256,
//     EC P-256/P-384/P-521 -> ES256/ES384/ES512, Ed25519 -> EdDSA. Such keys
//     have no kid; every key of the token's algorithm is tried;
//   - an HS256 shared secret (>= 32 bytes), for installs that follow the
//     original FusionAuth tutorial.
//
// Every key is bound to one algorithm and is only used with it: the parser
// accepts only the issuer's algorithms (jwt.WithValidMethods), and the key
// chosen must carry the token's alg, so `alg: none` and HS256 signed with a
// public key as the secret both fail.
//
// # Verification
//
// Verify rejects tokens over MaxTokenSize and anything that is not three
// non-empty base64url segments before decoding, reads the unverified iss only
// to choose the issuer, and then verifies with that issuer's keys only:
// signature, exp (required), nbf and iat (not in the future), iss equal to
// the issuer, aud containing the issuer's audience (IssuerConfig.Audience,
// else Config.Audience), all with a leeway (default 30 s). A crit header is
// refused, and so is JSON that parsers read differently: a header or payload
// member given twice, a payload member that only case-folds to a claim name
// (encoding/json would read "EXP" or "ſub" as exp or sub), and exp, nbf or
// iat that is not a JSON number between 0 and the year 9999. Header
// parameters that point at keys (jku, x5u, jwk, x5c) are ignored; a kid is
// only a lookup key within the token's own issuer. An OpenID Connect id_token
// is refused (ErrIDToken, see IDTokenReason) unless Config.AcceptIDTokens is
// set: it proves a login to a client and is no bearer credential. Errors
// wrap ErrInvalidToken plus a specific sentinel (ErrExpired, ErrAudience,
// ErrUnknownKey, ErrIDToken, ...).
//
// Verified tokens are kept in a bounded LRU cache keyed by the SHA-256 of the
// token until the token's exp (never beyond), so a token seen again costs no
// signature check. A cached entry is dropped at exp; the token then goes
// through full verification again (which applies the leeway). A token
// verified with a JWKS key is served from the cache only while that key is
// still in the issuer's key set, so withdrawing a key from the JWKS also
// withdraws the tokens it signed at the next refresh. Callers receive their
// own copy of the claims.
//
// # Claims
//
// Claims has fields for the registered claims and those common to OpenID
// providers and authproxy's gateway tokens (roles, tid, sid, email, ...).
// A service reads a claim of its own with Claims.Extra, by exact name, from
// the verified payload (inventory reads "branches" so, into a StringList):
// the library names no service's claims, and a claim that does not decode
// is the service's to refuse (WriteInvalidToken answers as Middleware
// does). Extra costs nothing at verification: the payload's members are
// split once anyway for the strict JSON checks, and cached claims keep them.
//
// # Failures
//
// The middleware answers 401 with a JSON body that says nothing about the
// token: without a bearer token (no Authorization header or another scheme)
// `WWW-Authenticate: Bearer realm="gatewarden"` and
// {"error":"unauthenticated",...} (RFC 6750 section 3.1: no error code);
// otherwise `WWW-Authenticate: Bearer error="invalid_token"` and
// {"error":"invalid_token",...}. The reason for a refused token is logged at
// warn level (a missing one at debug level); tokens and secrets are never
// logged.
//
// BearerToken accepts exactly "Bearer <token>" with one space; the scheme is
// matched case-insensitively as RFC 7235 requires, so "bearer" is accepted.
//
// # Revocations
//
// With Config.Revocations the Verifier follows authproxy's revocation feed
// (RevocationFeed, GET /revocations): one conditional GET every Interval
// (1 s) in the background, never a call per request. Every token, cached
// or not, whose sid is a revoked session, whose sub is a revoked subject
// and whose iat is at most that revocation's iat_max, or whose iat is at
// most the feed's application-wide cutoff (but the anonymous gateway
// tokens), fails with ErrRevoked (a token error: 401). Both compare the
// earlier of iat and orig_iat, which a gateway token minted from a bearer
// access token carries (that token's iat). If the feed has not been read for
// MaxStale (5 s), or not yet at all, every token fails with
// ErrRevocationsUnavailable, which is no verdict on the token: the
// middleware answers 503 (fail safe), except the gateway's anonymous
// tokens (RevocationConfig.GatewayIssuer, sub "anonymous", no sid), which
// no revocation can match, so public routes stay up. A stale feed does not
// fail Ready: every replica reads the same feed, and taking them all out
// of their Service would also take down the public routes. One poll may
// take at most Interval, and a failed one is retried at once. The outage
// is logged once by the follower, the refused requests at debug level.
//
// RevocationFollower is the same follower on any RevocationSource:
// authproxy keeps its own copy of its store's revocations with it, to
// check bearer access tokens.
//
// # Configuration
//
// ParseIssuerSpec reads the --issuer / JWT_ISSUERS form:
//
//	iss=<issuer>,jwks=<url>[,aud=<audience>][,algs=RS256|ES256][,refresh=5m]
//	iss=<issuer>,pem=<file>[,pem=<file2>]
//	iss=<issuer>,hmac-file=<file>
//
// Config.Validate reports every problem at once.
package jwtauth
