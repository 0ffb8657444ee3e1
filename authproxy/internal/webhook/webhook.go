// Package webhook receives FusionAuth's webhook events and ends the
// sessions they revoke.
//
// A request is accepted only as FusionAuth (1.48 and later) signs it: the
// X-FusionAuth-Signature-JWT header holds a JWT, signed with a key the
// identity provider publishes in its JWKS (or with the shared HMAC key),
// whose request_body_sha256 claim is the standard base64 SHA-256 of the raw
// body. Anything else is refused with 401 before the body is parsed; a
// request whose header is empty or not a compact JWT is refused before its
// body is read. With an HMAC key configured only HS256/384/512 signatures
// are accepted (FusionAuth signs a webhook with the one key configured for
// it); without one, only the provider's published keys. A signature whose
// exp or iat (when present) is out of time is refused.
//
// Events (the body is {"event": {...}}):
//   - jwt.refresh-token.revoke with a userId, and either no applicationId
//     (all of the user's tokens) or this client's: every session of the
//     user ends, on every replica (the store publishes the invalidation).
//     One that names a refreshToken of this client's (one token revoked;
//     FusionAuth sends the RefreshToken object: id, token, userId,
//     applicationId...) records the token's id (refreshToken.id, else
//     linkedObjectId; the access tokens' sid) as revoked in the revocation
//     feed (Config.Revoker), then ends only the session holding it
//     (Config.Tokens). When no link names a session of that user (a
//     session from before links, a failed link write, an evicted key),
//     every session of the user ends instead: the one holding the token
//     cannot be told apart. A linked session already gone ends nothing
//     more. One with this applicationId only
//     (all of the application's tokens revoked) records one
//     application-wide cutoff, the time it is handled (Config.Application,
//     package cutoff): every session created until then is refused where
//     it loads, on every replica within a second, and the revocation feed
//     publishes it, so the services refuse the tokens issued until then.
//     One write: the answer does not wait on the number of sessions.
//   - user.deactivate, user.delete (event.user.id): the same.
//   - user.registration.update for this application that removes a role
//     (a role in original.roles missing from registration.roles): the
//     user's sessions end, so the next login carries the reduced roles.
//     Ending rather than re-reading: the roles are in the sealed session
//     and its access token, which only the cookie's holder can refresh.
//     One that only adds roles changes nothing (a refresh picks them up).
//   - user.registration.delete for this application: the user's sessions
//     end.
//   - jwt.public-key.update whose applicationIds list this application:
//     the provider's JWKS is refetched now (Config.Refresher); a failed
//     refetch answers 503, so FusionAuth retries.
//
// An event for another tenant (when one is configured) or another
// application, and an event type not handled, is answered 204 and changes
// nothing. FusionAuth retries a failed delivery, so events are deduplicated
// on their id: a duplicate is answered 204 without redoing the work (which
// is idempotent anyway). 204 is answered only once the effect is stored;
// when the store fails the answer is 503, so FusionAuth retries. The effect
// runs to completion (bounded by EffectTimeout) even when FusionAuth hangs
// up.
//
// The signature JWT carries no freshness of its own and an event id is
// remembered only MarkTTL, so a replayed delivery could act again once its
// mark expired: an event whose createInstant (milliseconds since the epoch)
// is missing, older than MarkTTL less a margin (StaleMargin, at most half
// of MarkTTL), or more than MaxFuture ahead of the clock is stale. A stale
// event is answered 204 (FusionAuth stops retrying it), logged at WARN
// "stale event" and changes nothing.
package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/authproxy/internal/audit"
	"github.com/gatewarden/gatewarden/authproxy/internal/links"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// Defaults for Config.
const (
	DefaultMaxBody = 1 << 20
	DefaultMarkTTL = 24 * time.Hour
	// Path is where authproxy serves the handler.
	Path = "/webhooks/fusionauth"
	// SignatureHeader carries FusionAuth's signature JWT.
	SignatureHeader = "X-FusionAuth-Signature-JWT"
	// BodyHashClaim is the signature JWT's claim holding the body's hash.
	BodyHashClaim = "request_body_sha256"
	// StaleMargin: an event older than MarkTTL less this (or less half of
	// MarkTTL, if smaller) is stale, so it is refused while its mark, if
	// any, still stands.
	StaleMargin = time.Hour
	// MaxFuture: an event created further ahead of the clock is stale.
	MaxFuture = 5 * time.Minute
	// EffectTimeout bounds an event's effect (dedupe check, deletion, mark).
	EffectTimeout = 5 * time.Second
)

// Event types handled.
const (
	TypeRefreshTokenRevoke = "jwt.refresh-token.revoke"
	TypeUserDeactivate     = "user.deactivate"
	TypeUserDelete         = "user.delete"
	TypeRegistrationUpdate = "user.registration.update"
	TypeRegistrationDelete = "user.registration.delete"
	TypePublicKeyUpdate    = "jwt.public-key.update"
)

// Sessions ends a user's sessions; links.Ender implements it.
type Sessions interface {
	// EndUser removes every session of userID, on every replica, and
	// says how many it ended.
	EndUser(ctx context.Context, userID string) (int, error)
}

// Marks remembers the ids of events already handled.
type Marks interface {
	// Seen reports whether id was marked.
	Seen(ctx context.Context, id string) (bool, error)
	// Mark records id for ttl.
	Mark(ctx context.Context, id string, ttl time.Duration) error
}

// Keys finds the identity provider's public key for a signature JWT's kid
// and alg; *oidc.Provider implements it (SigningKey). An error wrapping
// jwtauth.ErrUnknownKey refuses the request (401); any other (keys not
// loaded, JWKS unreachable) answers 503.
type Keys interface {
	SigningKey(ctx context.Context, kid, alg string) (any, error)
}

// TokenSessions ends the one session holding a refresh token, when that
// session is a session of userID; links.Ender implements it. Linked is
// false when no link names a session of userID.
type TokenSessions interface {
	EndLinked(ctx context.Context, kind links.Kind, value, userID string) (links.Outcome, error)
}

// Revoker records session ids (an access token's sid: FusionAuth's
// refresh token id) as revoked in the revocation feed;
// *session.RedisStore implements it (RevokeSIDs).
type Revoker interface {
	RevokeSIDs(ctx context.Context, sids ...string) error
}

// ApplicationCutoff records that every session created at or before t is
// void; *cutoff.Cutoffs implements it (Set).
type ApplicationCutoff interface {
	Set(ctx context.Context, t time.Time) error
}

// KeyRefresher refetches the identity provider's published keys now;
// *oidc.Provider implements it (RefreshKeys).
type KeyRefresher interface {
	RefreshKeys(ctx context.Context) error
}

// Config configures the Handler. Sessions, Marks and ClientID are
// required, and Keys or HMACKey.
type Config struct {
	Sessions Sessions
	Marks    Marks
	// Keys verifies asymmetric signatures (RS*, PS*, ES*, EdDSA) with the
	// IdP's published keys; unused when HMACKey is set.
	Keys Keys
	// Tokens, when set, ends the one session holding a revoked refresh
	// token; nil ends all of the user's sessions for a single-token revoke.
	Tokens TokenSessions
	// Revoker, when set, records a revoked refresh token's id in the
	// revocation feed, so services refuse the access tokens it minted.
	Revoker Revoker
	// Application, when set, records the cutoff that voids every session
	// on a revocation of all of this application's refresh tokens; nil
	// ignores that event.
	Application ApplicationCutoff
	// Refresher, when set, is told to refetch the keys on a
	// jwt.public-key.update naming ClientID; nil ignores the event.
	Refresher KeyRefresher
	// HMACKey verifies HS256/384/512 signatures; when set, these are the
	// only ones accepted. Nil accepts none.
	HMACKey []byte
	// ClientID is this application's id: a revoke for another is ignored.
	ClientID string
	// TenantID, when set, is the only tenant whose events act.
	TenantID string
	MaxBody  int64            // 0 = DefaultMaxBody
	MarkTTL  time.Duration    // how long an event id is remembered; 0 = DefaultMarkTTL
	Logger   *slog.Logger     // nil = discard
	Now      func() time.Time // the clock; nil = time.Now
}

// Handler is the webhook endpoint. Build it with New.
type Handler struct {
	cfg    Config
	parser *jwt.Parser
	log    *slog.Logger
}

var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var hmacAlgs = []string{"HS256", "HS384", "HS512"}

// New checks cfg and builds the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Sessions == nil || cfg.Marks == nil || cfg.ClientID == "" {
		return nil, errors.New("webhook: new: sessions, marks and client id are required")
	}
	if cfg.Keys == nil && len(cfg.HMACKey) == 0 {
		return nil, errors.New("webhook: new: a key source or an HMAC key is required")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MarkTTL <= 0 {
		cfg.MarkTTL = DefaultMarkTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// FusionAuth signs a webhook with the one key configured for it: an
	// HMAC key, when one is set, is the only signature accepted.
	algs := asymmetricAlgs
	if len(cfg.HMACKey) > 0 {
		algs = hmacAlgs
	}
	return &Handler{
		cfg: cfg, log: cfg.Logger,
		parser: jwt.NewParser(jwt.WithValidMethods(algs), jwt.WithLeeway(time.Minute),
			jwt.WithIssuedAt(), jwt.WithTimeFunc(cfg.Now)),
	}, nil
}

// Errors the handler maps to its answers (see status).
var (
	errMethod      = errors.New("method not allowed")
	errContentType = errors.New("content type must be application/json")
	errTooLarge    = errors.New("body too large")
	errSignature   = errors.New("missing or invalid signature")
	errMalformed   = errors.New("malformed event")
	errStore       = errors.New("session store unavailable")
	errKeys        = errors.New("signing keys unavailable")
)

// sentinels maps each refusal to its status; the answer names the
// sentinel only, never a detail such as a key id or a store address.
var sentinels = []struct {
	err  error
	code int
}{
	{errMethod, http.StatusMethodNotAllowed},
	{errContentType, http.StatusUnsupportedMediaType},
	{errTooLarge, http.StatusRequestEntityTooLarge},
	{errSignature, http.StatusUnauthorized},
	{errMalformed, http.StatusBadRequest},
	{errStore, http.StatusServiceUnavailable},
	{errKeys, http.StatusServiceUnavailable},
}

// ServeHTTP implements http.Handler; it is the one place errors become
// answers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := h.serve(w, r)
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			code, msg = s.code, s.err.Error()
			break
		}
	}
	level := slog.LevelWarn
	if code >= 500 {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "webhook refused", "status", code, "error", err.Error())
	audit.WebhookRefused(r, h.log, code, msg)
	if code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": msg})
	_, _ = w.Write(append(b, '\n'))
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return errMethod
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return errContentType
	}
	sig := r.Header.Get(SignatureHeader)
	if err := compactJWT(sig); err != nil {
		return err // before reading up to MaxBody of an unsigned request
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errTooLarge
		}
		return fmt.Errorf("%w: read body: %w", errMalformed, err)
	}
	if err := h.verify(r.Context(), sig, body); err != nil {
		return err
	}
	var env struct {
		Event *Event `json:"event"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Event == nil || env.Event.ID == "" || env.Event.Type == "" {
		return errMalformed
	}
	// The effect must not be cut short by FusionAuth hanging up: the
	// sessions would survive a deletion answered by no one.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), EffectTimeout)
	defer cancel()
	return h.handle(ctx, env.Event)
}

// compactJWT refuses a signature header that is empty or not a compact JWT
// (three dot-separated parts).
func compactJWT(sig string) error {
	if sig == "" {
		return fmt.Errorf("%w: no %s header", errSignature, SignatureHeader)
	}
	if strings.Count(sig, ".") != 2 {
		return fmt.Errorf("%w: %s is not a compact JWT", errSignature, SignatureHeader)
	}
	return nil
}

// verify checks the signature JWT and that it names body's hash. A key
// the provider does not publish is a bad signature (401); keys not loaded
// yet, or not fetchable, are the provider's outage (503: FusionAuth
// retries).
func (h *Handler) verify(ctx context.Context, sig string, body []byte) error {
	claims := jwt.MapClaims{}
	var keyErr error
	if _, err := h.parser.ParseWithClaims(sig, claims, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
			return h.cfg.HMACKey, nil // the parser admits HS* only with a key
		}
		kid, err := jwtauth.KeyID(t)
		if err != nil {
			return nil, err
		}
		k, err := h.cfg.Keys.SigningKey(ctx, kid, alg)
		keyErr = err
		return k, err
	}); err != nil {
		if keyErr != nil && !errors.Is(keyErr, jwtauth.ErrUnknownKey) {
			return fmt.Errorf("%w: %w", errKeys, keyErr)
		}
		return fmt.Errorf("%w: %w", errSignature, err)
	}
	want, ok := claims[BodyHashClaim].(string)
	if !ok {
		return fmt.Errorf("%w: no %s claim", errSignature, BodyHashClaim)
	}
	sum := sha256.Sum256(body)
	got := base64.StdEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fmt.Errorf("%w: body does not match its signature", errSignature)
	}
	return nil
}

// Event is a FusionAuth event, the fields this package reads.
type Event struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	CreateInstant int64  `json:"createInstant"`
	TenantID      string `json:"tenantId"`
	ApplicationID string `json:"applicationId,omitempty"`
	UserID        string `json:"userId,omitempty"`
	User          *User  `json:"user,omitempty"`
	// RefreshToken is the one token a jwt.refresh-token.revoke revokes
	// (FusionAuth 1.37 and later).
	RefreshToken *RefreshToken `json:"refreshToken,omitempty"`
	// LinkedObjectID is, in a single-token jwt.refresh-token.revoke
	// (FusionAuth 1.53 and later), the token's id.
	LinkedObjectID string `json:"linkedObjectId,omitempty"`
	// Original and Registration are a registration before and after a
	// user.registration.update (Registration alone in a
	// user.registration.delete).
	Original     *Registration `json:"original,omitempty"`
	Registration *Registration `json:"registration,omitempty"`
	// ApplicationIDs are the applications whose signing key changed
	// (jwt.public-key.update).
	ApplicationIDs []string `json:"applicationIds,omitempty"`
}

// Registration is a user's registration to an application, the fields
// this package reads.
type Registration struct {
	ApplicationID string   `json:"applicationId"`
	Roles         []string `json:"roles,omitempty"`
}

// RefreshToken is FusionAuth's RefreshToken object, the fields this
// package reads (it also carries insertInstant, startInstant, metaData,
// tenantId).
type RefreshToken struct {
	// ID is the token's id, the sid of the access tokens it minted.
	ID string `json:"id,omitempty"`
	// Token is the refresh token itself; a credential: never logged.
	Token         string `json:"token,omitempty"`
	ApplicationID string `json:"applicationId,omitempty"`
	UserID        string `json:"userId,omitempty"`
}

// tokenID is the revoked token's id: refreshToken.id, else
// linkedObjectId.
func (e *Event) tokenID() string {
	if e.RefreshToken != nil && e.RefreshToken.ID != "" {
		return e.RefreshToken.ID
	}
	return e.LinkedObjectID
}

// tokenValue is the revoked refresh token's value, "" when not sent.
func (e *Event) tokenValue() string {
	if e.RefreshToken == nil {
		return ""
	}
	return e.RefreshToken.Token
}

// User is an event's user, the fields this package reads.
type User struct {
	ID string `json:"id"`
}

// handle acts on a verified event.
func (h *Handler) handle(ctx context.Context, e *Event) error {
	log := h.log.With("event_id", e.ID, "event_type", e.Type)
	if why := h.stale(e); why != "" {
		log.Warn("stale event", "reason", why, "create_instant", e.CreateInstant)
		return nil
	}
	if h.cfg.TenantID != "" && e.TenantID != h.cfg.TenantID {
		log.Info("webhook event for another tenant ignored", "tenant_id", e.TenantID)
		return nil
	}
	eff, why := h.target(e)
	if eff == (effect{}) {
		log.Log(ctx, why.level, "webhook event ignored", "reason", why.reason)
		return nil
	}
	seen, err := h.cfg.Marks.Seen(ctx, e.ID)
	if err != nil {
		return fmt.Errorf("%w: %w", errStore, err)
	}
	if seen {
		log.Info("webhook event already handled")
		return nil
	}
	done := "webhook event ended the user's sessions"
	ended := 0
	var cutoff time.Time
	switch {
	case eff.refreshKeys:
		if err := h.cfg.Refresher.RefreshKeys(ctx); err != nil {
			return fmt.Errorf("%w: %w", errKeys, err)
		}
		done = "webhook event refetched the identity provider's keys"
	case eff.application:
		cutoff = h.cfg.Now()
		if err := h.cfg.Application.Set(ctx, cutoff); err != nil {
			return fmt.Errorf("%w: %w", errStore, err)
		}
		done = "webhook event voided every session of the application created until now"
	case eff.oneToken:
		d, n, err := h.endToken(ctx, eff)
		if err != nil {
			return fmt.Errorf("%w: %w", errStore, err)
		}
		done, ended = d, n
	default:
		n, err := h.cfg.Sessions.EndUser(ctx, eff.user)
		if err != nil {
			return fmt.Errorf("%w: %w", errStore, err)
		}
		ended = n
	}
	// The effect is done; a failed mark only means a redelivery redoes
	// the (idempotent) work.
	if err := h.cfg.Marks.Mark(ctx, e.ID, h.cfg.MarkTTL); err != nil {
		log.Warn("webhook event handled but not marked", "error", err.Error())
	}
	switch {
	case eff.refreshKeys:
		log.Info(done)
	case eff.application:
		log.Info(done)
		audit.WebhookApplicationRevoked(ctx, h.log, cutoff, e.ID, e.Type)
	default:
		log.Info(done, "user_id", eff.user, "sessions_ended", ended)
		audit.WebhookRevoked(ctx, h.log, eff.user, ended, e.ID, e.Type)
	}
	return nil
}

// stale says why e is too old, too new or undated to act on, or "".
func (h *Handler) stale(e *Event) string {
	if e.CreateInstant <= 0 {
		return "no createInstant"
	}
	age := h.cfg.Now().Sub(time.UnixMilli(e.CreateInstant))
	switch {
	case age > h.cfg.MarkTTL-min(StaleMargin, h.cfg.MarkTTL/2):
		return "older than its dedupe mark lives"
	case age < -MaxFuture:
		return "created in the future"
	}
	return ""
}

type ignored struct {
	level  slog.Level
	reason string
}

// effect is what an event does: end every session of user, or refetch
// the provider's keys. The zero effect is nothing.
type effect struct {
	user        string
	oneToken    bool   // one refresh token revoked: tokenID and/or token
	tokenID     string // the revoked refresh token's id (access tokens' sid)
	token       string // end only the session holding this refresh token
	application bool   // void every session of the application created until now
	refreshKeys bool
}

// target is what e does, or the zero effect and why nothing.
func (h *Handler) target(e *Event) (effect, ignored) {
	switch e.Type {
	case TypeRefreshTokenRevoke:
		switch {
		case e.ApplicationID != "" && e.ApplicationID != h.cfg.ClientID:
			return effect{}, ignored{slog.LevelInfo, "another application"}
		case e.UserID == "" && e.ApplicationID == "":
			return effect{}, ignored{slog.LevelWarn, "no user id"}
		case e.UserID == "" && h.cfg.Application == nil:
			return effect{}, ignored{slog.LevelWarn, "application-wide revoke not handled"}
		case e.UserID == "":
			return effect{application: true}, ignored{}
		}
		if e.ApplicationID != "" && (e.tokenID() != "" || e.tokenValue() != "") {
			return effect{user: e.UserID, oneToken: true, tokenID: e.tokenID(), token: e.tokenValue()}, ignored{}
		}
		return effect{user: e.UserID}, ignored{}
	case TypeUserDeactivate, TypeUserDelete:
		return h.userEffect(e)
	case TypeRegistrationUpdate, TypeRegistrationDelete:
		if app := registrationApp(e); app != h.cfg.ClientID {
			return effect{}, ignored{slog.LevelInfo, "another application"}
		}
		if e.Type == TypeRegistrationUpdate && !rolesRemoved(e.Original, e.Registration) {
			// Roles only added (or other fields changed): the sessions
			// keep what they have and gain the new roles at the next
			// token refresh.
			return effect{}, ignored{slog.LevelInfo, "no role removed"}
		}
		return h.userEffect(e)
	case TypePublicKeyUpdate:
		if !slices.Contains(e.ApplicationIDs, h.cfg.ClientID) {
			return effect{}, ignored{slog.LevelInfo, "another application"}
		}
		if h.cfg.Refresher == nil {
			return effect{}, ignored{slog.LevelInfo, "no key refresher"}
		}
		return effect{refreshKeys: true}, ignored{}
	}
	return effect{}, ignored{slog.LevelDebug, "event type not handled"}
}

// userEffect ends the sessions of the event's user.
func (h *Handler) userEffect(e *Event) (effect, ignored) {
	if e.User == nil || e.User.ID == "" {
		return effect{}, ignored{slog.LevelWarn, "no user id"}
	}
	return effect{user: e.User.ID}, ignored{}
}

// registrationApp is the application a registration event is about: the
// event's applicationId, else its registration's.
func registrationApp(e *Event) string {
	if e.ApplicationID != "" {
		return e.ApplicationID
	}
	if e.Registration != nil {
		return e.Registration.ApplicationID
	}
	return ""
}

// rolesRemoved reports whether after lacks a role before had. A missing
// before or after counts as a removal: what the sessions hold cannot be
// shown to still stand.
func rolesRemoved(before, after *Registration) bool {
	if before == nil || after == nil {
		return true
	}
	for _, r := range before.Roles {
		if !slices.Contains(after.Roles, r) {
			return true
		}
	}
	return false
}

// endToken is a single-token revoke: the token's id is recorded as revoked
// (the access tokens it minted carry it as sid), then the session linked
// to the token ends; when no link names a session of the user, all of the
// user's sessions end. It says what it did and how many sessions ended.
func (h *Handler) endToken(ctx context.Context, eff effect) (string, int, error) {
	if eff.tokenID != "" && h.cfg.Revoker != nil {
		if err := h.cfg.Revoker.RevokeSIDs(ctx, eff.tokenID); err != nil {
			return "", 0, err
		}
	}
	if eff.token != "" && h.cfg.Tokens != nil {
		o, err := h.cfg.Tokens.EndLinked(ctx, links.RefreshToken, eff.token, eff.user)
		if err != nil {
			return "", 0, err
		}
		switch {
		case o.Ended:
			return "webhook event ended the session holding the token", 1, nil
		case o.Linked:
			return "webhook event: the session holding the token had already ended", 0, nil
		}
	}
	n, err := h.cfg.Sessions.EndUser(ctx, eff.user)
	if err != nil {
		return "", 0, err
	}
	return "webhook event: no session linked to the token, ended the user's sessions", n, nil
}
