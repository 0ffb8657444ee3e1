package jwtauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel/trace"
)

const (
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultCacheSize is the default number of verified tokens cached.
	DefaultCacheSize = 10000
	// DefaultJWKSRefresh is the default background JWKS refresh interval.
	DefaultJWKSRefresh = 5 * time.Minute
	// MaxTokenSize is the largest token accepted; larger ones are rejected
	// before any decoding.
	MaxTokenSize = 8 << 10
)

// Log attribute keys.
const (
	attrIssuer = "iss"
	attrError  = "error"
	attrReason = "reason"
	attrMethod = "method"
	attrPath   = "path"
)

// Verifier verifies bearer tokens against a fixed set of trusted issuers.
// It is safe for concurrent use.
type Verifier struct {
	issuers map[string]*issuer
	jwks    []*jwksSource
	cache   *tokenCache // nil when disabled
	revs    *follower   // nil without Config.Revocations
	idOK    bool        // Config.AcceptIDTokens
	now     func() time.Time
	logger  *slog.Logger
	tracer  trace.Tracer // Config.Tracer; nil: no spans
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// issuer is one trusted issuer: its parser (pinned algorithms, iss, aud,
// leeway) and its keys.
type issuer struct {
	name   string
	parser *jwt.Parser
	static staticKeys  // PEM or HMAC keys; nil for JWKS issuers
	jwks   *jwksSource // nil for PEM/HMAC issuers
}

// New validates cfg, builds a Verifier and fetches every JWKS once. A JWKS
// that cannot be fetched does not make New fail: the Verifier then rejects
// that issuer's tokens and Ready reports the problem until a background
// retry succeeds. The background refresh stops when ctx is done or Close is
// called.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("jwtauth: new: %w", err)
	}
	v := &Verifier{issuers: map[string]*issuer{}, now: cfg.Now, logger: cfg.Logger, idOK: cfg.AcceptIDTokens, tracer: cfg.Tracer}
	if v.now == nil {
		v.now = time.Now
	}
	if v.logger == nil {
		v.logger = slog.New(slog.DiscardHandler)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	switch size := cfg.CacheSize; {
	case size == 0:
		v.cache = newTokenCache(DefaultCacheSize)
	case size > 0:
		v.cache = newTokenCache(size)
	}
	for _, ic := range cfg.Issuers {
		keys, algs, _ := checkIssuer(ic) // already validated
		aud := ic.Audience
		if aud == "" {
			aud = cfg.Audience
		}
		is := &issuer{
			name: ic.Issuer,
			parser: jwt.NewParser(
				jwt.WithValidMethods(algs),
				jwt.WithIssuer(ic.Issuer),
				jwt.WithAudience(aud),
				jwt.WithExpirationRequired(),
				jwt.WithIssuedAt(),
				jwt.WithLeeway(leeway),
				jwt.WithTimeFunc(v.now),
				jwt.WithStrictDecoding(),
			),
		}
		if ic.JWKSURL != "" {
			refresh := ic.JWKSRefresh
			if refresh == 0 {
				refresh = DefaultJWKSRefresh
			}
			refetch := ic.JWKSRefetch
			if refetch == 0 {
				refetch = DefaultJWKSRefetch
			}
			is.jwks = &jwksSource{
				issuer: ic.Issuer, url: ic.JWKSURL, allowed: algs, refresh: refresh, refetch: refetch,
				client: client, timeout: fetchTimeout, logger: v.logger, now: v.now, tracer: cfg.Tracer,
				onFetch: cfg.OnJWKSFetch,
			}
			v.jwks = append(v.jwks, is.jwks)
		} else {
			var usable []*key
			for _, k := range keys {
				if slices.Contains(algs, k.alg) {
					usable = append(usable, k)
				}
			}
			is.static = newStaticKeys(usable)
		}
		v.issuers[ic.Issuer] = is
	}

	ctx, v.cancel = context.WithCancel(ctx)
	var first sync.WaitGroup
	if cfg.Revocations != nil {
		rc := cfg.Revocations
		interval, stale := rc.durations()
		v.revs = newFollower(&httpSource{url: rc.URL, client: client}, rc.URL, interval, stale, v.now, v.logger)
		v.revs.gateway = rc.gatewayIssuer(cfg.Issuers)
		first.Go(func() { _ = v.revs.poll(ctx) })
	}
	for _, s := range v.jwks {
		first.Go(func() {
			if err := s.fetch(ctx); err != nil {
				v.logger.WarnContext(ctx, "initial jwks fetch failed; issuer not ready",
					attrIssuer, s.issuer, attrError, err.Error())
			}
		})
	}
	first.Wait()
	for _, s := range v.jwks {
		v.wg.Go(func() { s.run(ctx) })
	}
	if v.revs != nil {
		v.wg.Go(func() { v.revs.run(ctx) })
	}
	return v, nil
}

// Ready returns nil once every JWKS issuer has a key set loaded (PEM and
// HMAC issuers are always ready). Use it for /readyz.
func (v *Verifier) Ready() error {
	var errs []error
	for _, s := range v.jwks {
		if err := s.ready(); err != nil {
			errs = append(errs, err)
		}
	}
	// A stale revocation feed does not make the verifier unready: every
	// replica follows the same feed, so taking them all out of their
	// Service helps nobody and would also take down the public routes
	// (anonymous tokens pass a stale feed); a request with a token the
	// feed could revoke gets 503 with Retry-After instead (see Middleware).
	return errors.Join(errs...)
}

// Close stops the background JWKS refreshes and waits for them to end.
func (v *Verifier) Close() {
	v.cancel()
	v.wg.Wait()
}

// Verify checks token: size, syntax, unambiguous JSON (see inspect), a
// trusted iss, the signature with that
// issuer's keys only (kid and pinned algorithm), exp (required), nbf, iat
// and aud, with leeway. Verified tokens are cached until their exp. With
// a revocation feed, every token, cached or not, is then checked against
// the feed last read. The returned Claims are the caller's own copy.
// Every error wraps ErrInvalidToken and one more specific sentinel, except
// ErrRevocationsUnavailable, which is no verdict on the token; none
// contains the token.
//
// With Config.Tracer set, each call is a "jwtauth.verify" span (see trace.go).
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if v.tracer != nil {
		return v.verifyTraced(ctx, token)
	}
	return v.verifyUnrevoked(ctx, token)
}

// verifyUnrevoked is Verify without its span: the (cached) verification,
// then the revocation check.
func (v *Verifier) verifyUnrevoked(ctx context.Context, token string) (*Claims, error) {
	claims, err := v.verifyCached(ctx, token)
	if err != nil || v.revs == nil {
		return claims, err
	}
	if err := v.revs.check(claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// verifyCached is verify without the revocation check.
func (v *Verifier) verifyCached(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, verifyErr(ErrTooLarge, nil)
	}
	if !validTokenSyntax(token) {
		return nil, verifyErr(ErrMalformed, errors.New("not three base64url segments"))
	}
	now := v.now()
	var sum [32]byte
	if v.cache != nil {
		sum = sha256.Sum256([]byte(token))
		if c, ok := v.cache.get(sum, now); ok {
			return c.clone(), nil
		}
	}
	claims, is, used, err := v.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		cached := claims.clone()
		v.cache.put(sum, cached, cached.ExpiresAt.Time, is.jwks, used)
	}
	return claims, nil
}

// verify verifies token and returns its claims, its issuer and, for a JWKS
// issuer, the key that verified it.
func (v *Verifier) verify(ctx context.Context, token string) (*Claims, *issuer, *key, error) {
	iss, extra, err := inspect(token)
	if err != nil {
		return nil, nil, nil, verifyErr(ErrMalformed, err)
	}
	is, ok := v.issuers[iss]
	if !ok {
		return nil, nil, nil, verifyErr(ErrUntrustedIssuer, nil)
	}
	claims := new(Claims)
	var used *key
	if _, err := is.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		m, k, err := is.keyFor(ctx, t)
		used = k
		return m, err
	}); err != nil {
		return nil, nil, nil, verifyErr(classify(err), err)
	}
	claims.extra = extra
	if claims.ExpiresAt == nil { // guarded by WithExpirationRequired; the cache relies on it
		return nil, nil, nil, verifyErr(ErrMissingClaim, errors.New("no exp"))
	}
	if !v.idOK {
		if reason := IDTokenReason(token); reason != "" {
			return nil, nil, nil, verifyErr(ErrIDToken, errors.New(reason))
		}
	}
	return claims, is, used, nil
}

// keyFor picks the verification key material for t from this issuer's keys
// only, and for a JWKS issuer also the key itself. The parser has already
// checked that t's alg is one the issuer allows; the key returned is bound
// to exactly that alg.
func (is *issuer) keyFor(ctx context.Context, t *jwt.Token) (any, *key, error) {
	kid, err := KeyID(t)
	if err != nil {
		return nil, nil, err
	}
	return is.key(ctx, kid, t.Method.Alg())
}

// KeyID returns the kid of t's header ("" when it has none) for a key
// lookup, refusing (ErrMalformed) a kid that is not a string and a crit
// header (no extension is understood here, so RFC 7515 says refuse). Every
// key lookup of a parsed token goes through it.
func KeyID(t *jwt.Token) (string, error) {
	if _, ok := t.Header["crit"]; ok {
		return "", fmt.Errorf("%w: crit header not supported", ErrMalformed)
	}
	raw, ok := t.Header["kid"]
	if !ok {
		return "", nil
	}
	kid, ok := raw.(string)
	if !ok {
		return "", fmt.Errorf("%w: kid is not a string", ErrMalformed)
	}
	return kid, nil
}

// key is keyFor once kid and alg are known.
func (is *issuer) key(ctx context.Context, kid, alg string) (any, *key, error) {
	if is.jwks != nil {
		k, err := is.jwks.lookup(ctx, kid, alg)
		if err != nil {
			return nil, nil, err
		}
		return k.material, k, nil
	}
	if m, ok := is.static[alg]; ok {
		return m, nil, nil
	}
	return nil, nil, fmt.Errorf("%w: no %s key", ErrUnknownKey, alg)
}

// classify maps a jwt error to this package's sentinel.
func classify(err error) error {
	for _, m := range []struct{ from, to error }{
		{ErrUnknownKey, ErrUnknownKey},
		{ErrNotReady, ErrNotReady},
		{ErrMalformed, ErrMalformed},
		{jwt.ErrTokenMalformed, ErrMalformed},
		{jwt.ErrTokenSignatureInvalid, ErrSignature},
		{jwt.ErrTokenExpired, ErrExpired},
		{jwt.ErrTokenNotValidYet, ErrNotYetValid},
		{jwt.ErrTokenUsedBeforeIssued, ErrNotYetValid},
		{jwt.ErrTokenInvalidAudience, ErrAudience},
		{jwt.ErrTokenInvalidIssuer, ErrUntrustedIssuer},
		{jwt.ErrTokenRequiredClaimMissing, ErrMissingClaim},
	} {
		if errors.Is(err, m.from) {
			return m.to
		}
	}
	return ErrInvalidToken
}

// verificationError is what Verify returns: it matches ErrInvalidToken, the
// specific sentinel and the cause with errors.Is.
type verificationError struct {
	kind  error
	cause error
}

func verifyErr(kind, cause error) error { return &verificationError{kind: kind, cause: cause} }

func (e *verificationError) Error() string {
	msg := "jwtauth: verify: " + strings.TrimPrefix(e.kind.Error(), "jwtauth: ")
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *verificationError) Unwrap() []error {
	errs := []error{ErrInvalidToken}
	if e.kind != ErrInvalidToken { //nolint:errorlint // kind is one of the sentinels, never wrapped
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// clone returns a deep copy so callers cannot change cached claims (extra
// is shared: nothing modifies it).
func (c *Claims) clone() *Claims {
	cp := *c
	cp.Audience = slices.Clone(c.Audience)
	cp.Roles = slices.Clone(c.Roles)
	cp.ExpiresAt = cloneDate(c.ExpiresAt)
	cp.IssuedAt = cloneDate(c.IssuedAt)
	cp.NotBefore = cloneDate(c.NotBefore)
	return &cp
}

func cloneDate(d *jwt.NumericDate) *jwt.NumericDate {
	if d == nil {
		return nil
	}
	cp := *d
	return &cp
}

// Key returns the verification key material the trusted issuer named iss
// holds for kid and alg (a JWKS issuer refetches at most once per refetch
// interval for an unknown kid), for a caller that verifies a JWT which is
// not a bearer token, such as a webhook signature. The key is bound to
// exactly alg: an HS256 lookup never returns an RSA public key. Errors wrap
// ErrUntrustedIssuer, ErrUnknownKey or ErrNotReady.
func (v *Verifier) Key(ctx context.Context, iss, kid, alg string) (any, error) {
	is, ok := v.issuers[iss]
	if !ok {
		return nil, ErrUntrustedIssuer
	}
	m, _, err := is.key(ctx, kid, alg)
	return m, err
}
