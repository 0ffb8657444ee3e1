// Package backchannel receives OpenID Connect Back-Channel Logout 1.0
// requests: the provider POSTs a logout_token (a JWT, form-encoded) and
// the sessions it names end on every replica.
//
// The token is verified as the specification (section 2.6) says: signed
// with one of the provider's published asymmetric keys (never none, never
// HMAC), iss the provider's issuer, aud containing the client id, iat
// present and not older than MaxAge (nor in the future), exp checked when
// present, an "events" claim holding the back-channel logout event as a
// JSON object, a sid or a sub, no nonce (an id_token is not a logout
// token), a jti, and a typ header, when present, of "logout+jwt" or "JWT".
// A jti already seen from this issuer is refused (replay); it is
// remembered (Marks) twice MaxAge, longer than a token is accepted.
//
// The provider's discovery document must announce
// backchannel_logout_supported (otherwise every token is refused), and a
// sid counts only when it also announces
// backchannel_logout_session_supported.
//
// Effect: with a sid, the one session whose login carried that provider
// session id (its id_token's sid; the link Links finds) ends, provided a
// sub, when also present, names that session's user; with only a sub,
// every session of that user ends. Answers follow the specification: 200
// once done (a sid no session holds is done), 400 with a JSON error for a
// token that fails verification or a logout that could not be carried out,
// and Cache-Control: no-store on both.
package backchannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/authproxy/internal/audit"
	"github.com/gatewarden/gatewarden/authproxy/internal/links"
	"github.com/gatewarden/gatewarden/authproxy/internal/webhook"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// Defaults and names.
const (
	// Path is where authproxy serves the handler.
	Path = "/oauth2/backchannel-logout"
	// EventURI is the back-channel logout event's member of "events".
	EventURI = "http://schemas.openid.net/event/backchannel-logout"
	// DefaultMaxAge is how old (by iat) a logout token may be.
	DefaultMaxAge = 5 * time.Minute
	// MaxBody bounds the form.
	MaxBody = 64 << 10
	// EffectTimeout bounds a logout's effect.
	EffectTimeout = 5 * time.Second
)

// Keys finds the provider's published key for a kid and alg, names the
// provider's issuer and says what its discovery document announced about
// back-channel logout; *oidc.Provider implements it.
type Keys interface {
	SigningKey(ctx context.Context, kid, alg string) (any, error)
	Issuer() string
	BackChannelLogout() (supported, session bool)
}

// Sessions ends every session of a user on every replica and says how
// many it ended; links.Ender implements it.
type Sessions interface {
	EndUser(ctx context.Context, userID string) (int, error)
}

// Linked ends the one session linked to a value; links.Ender implements
// it.
type Linked interface {
	End(ctx context.Context, kind links.Kind, value, userID string) (ended bool, err error)
}

// Marks remembers the jti values already used: the webhook's event marks
// (session.EventMarks), under their own prefix of id.
type Marks = webhook.Marks

// Config configures the Handler; every field but MaxAge, Logger and Now is
// required.
type Config struct {
	Keys     Keys
	Sessions Sessions
	Linked   Linked
	Marks    Marks
	ClientID string
	MaxAge   time.Duration    // 0 = DefaultMaxAge
	Logger   *slog.Logger     // nil = discard
	Now      func() time.Time // nil = time.Now
}

// Handler is the back-channel logout endpoint. Build it with New.
type Handler struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and builds the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Keys == nil || cfg.Sessions == nil || cfg.Linked == nil || cfg.Marks == nil || cfg.ClientID == "" {
		return nil, errors.New("backchannel: new: keys, sessions, links, marks and client id are required")
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg, log: cfg.Logger}, nil
}

var (
	errMethod  = errors.New("method not allowed")
	errRequest = errors.New("invalid_request")
	errFailed  = errors.New("logout_failed")
)

// ServeHTTP implements http.Handler; it is the one place errors become
// answers. The answer names the kind only, never a detail.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	err := h.serve(w, r)
	if err == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	code, msg := http.StatusBadRequest, errRequest.Error()
	switch {
	case errors.Is(err, errMethod):
		code, msg = http.StatusMethodNotAllowed, errMethod.Error()
		w.Header().Set("Allow", http.MethodPost)
	case errors.Is(err, errFailed):
		msg = errFailed.Error()
	}
	level := slog.LevelWarn
	if errors.Is(err, errFailed) {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "back-channel logout refused", "status", code, "error", err.Error())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return errMethod
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return fmt.Errorf("%w: content type", errRequest)
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("%w: form: %w", errRequest, err)
	}
	raw := r.PostForm.Get("logout_token")
	if raw == "" {
		return fmt.Errorf("%w: no logout_token", errRequest)
	}
	lt, err := h.verify(r.Context(), raw)
	if err != nil {
		return fmt.Errorf("%w: %w", errRequest, err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), EffectTimeout)
	defer cancel()
	return h.logout(ctx, lt)
}

// logoutToken is a verified token's claims that decide the effect.
type logoutToken struct {
	iss, sub, sid, jti string
}

var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// verify checks raw as a logout token (see the package comment).
func (h *Handler) verify(ctx context.Context, raw string) (*logoutToken, error) {
	iss := h.cfg.Keys.Issuer()
	if iss == "" {
		return nil, errors.New("provider not discovered yet")
	}
	supported, sessions := h.cfg.Keys.BackChannelLogout()
	if !supported {
		return nil, errors.New("the provider does not announce backchannel_logout_supported")
	}
	p := jwt.NewParser(jwt.WithValidMethods(asymmetric), jwt.WithIssuer(iss), jwt.WithAudience(h.cfg.ClientID),
		jwt.WithIssuedAt(), jwt.WithLeeway(time.Minute), jwt.WithTimeFunc(h.cfg.Now))
	claims := jwt.MapClaims{}
	tok, err := p.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, err := jwtauth.KeyID(t)
		if err != nil {
			return nil, err
		}
		return h.cfg.Keys.SigningKey(ctx, kid, t.Method.Alg())
	})
	if err != nil {
		return nil, fmt.Errorf("logout token: %w", err)
	}
	if typ, ok := tok.Header["typ"]; ok {
		if s, _ := typ.(string); !strings.EqualFold(s, "logout+jwt") && !strings.EqualFold(s, "JWT") {
			return nil, errors.New("logout token: typ is not logout+jwt")
		}
	}
	iat, err := claims.GetIssuedAt()
	if err != nil || iat == nil {
		return nil, errors.New("logout token: no iat")
	}
	if age := h.cfg.Now().Sub(iat.Time); age > h.cfg.MaxAge {
		return nil, fmt.Errorf("logout token: issued %s ago, more than %s", age.Round(time.Second), h.cfg.MaxAge)
	}
	events, _ := claims["events"].(map[string]any)
	if _, ok := events[EventURI].(map[string]any); !ok {
		return nil, errors.New("logout token: no back-channel logout event")
	}
	if _, ok := claims["nonce"]; ok {
		return nil, errors.New("logout token: carries a nonce")
	}
	lt := &logoutToken{iss: iss}
	lt.sub, _ = claims["sub"].(string)
	lt.sid, _ = claims["sid"].(string)
	lt.jti, _ = claims["jti"].(string)
	if !sessions {
		// Without backchannel_logout_session_supported a sid names no
		// session of ours: the logout is the user's (sub), or refused.
		lt.sid = ""
	}
	if lt.sub == "" && lt.sid == "" {
		return nil, errors.New("logout token: neither sid nor sub")
	}
	if lt.jti == "" {
		return nil, errors.New("logout token: no jti")
	}
	return lt, nil
}

// logout ends what lt names, once per jti.
func (h *Handler) logout(ctx context.Context, lt *logoutToken) error {
	mark := "bcl\x00" + lt.iss + "\x00" + lt.jti
	seen, err := h.cfg.Marks.Seen(ctx, mark)
	if err != nil {
		return fmt.Errorf("%w: %w", errFailed, err)
	}
	if seen {
		return fmt.Errorf("%w: jti already used", errRequest)
	}
	log := h.log.With("sub", lt.sub, "sid_present", lt.sid != "")
	if lt.sid != "" {
		ended, err := h.cfg.Linked.End(ctx, links.ProviderSession, lt.sid, lt.sub)
		if err != nil {
			return fmt.Errorf("%w: %w", errFailed, err)
		}
		n := 0
		if ended {
			n = 1
		}
		log.Info("back-channel logout", "sessions_ended", n)
		audit.BackChannelRevoked(ctx, h.log, lt.sub, n)
	} else {
		n, err := h.cfg.Sessions.EndUser(ctx, lt.sub)
		if err != nil {
			return fmt.Errorf("%w: %w", errFailed, err)
		}
		log.Info("back-channel logout ended the user's sessions", "sessions_ended", n)
		audit.BackChannelRevoked(ctx, h.log, lt.sub, n)
	}
	if err := h.cfg.Marks.Mark(ctx, mark, 2*h.cfg.MaxAge); err != nil {
		log.Warn("back-channel logout done but its jti not marked", "error", err.Error())
	}
	return nil
}
