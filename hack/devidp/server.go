package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server is the in-memory identity provider. All methods are safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	users  *directory
	key    *rsa.PrivateKey
	kid    string
	secure bool // issuer is https: the SSO cookie gets Secure

	mu       sync.Mutex
	codes    map[string]*authCode
	refresh  map[string]*refreshToken
	sso      map[string]*ssoSession
	requests map[string]int
	inactive map[string]bool // deactivated user ids
	// roles are the roles an admin action set (SetRoles), by user id;
	// a user without an entry has the directory's.
	roles map[string][]string

	webhookClient *http.Client
}

type authCode struct {
	clientID, redirectURI, userID, scope, nonce string
	challenge, challengeMethod                  string
	authTime, expires                           time.Time
}

type refreshToken struct {
	id, clientID, userID, scope string
	authTime, expires, inserted time.Time
}

type ssoSession struct {
	userID            string
	authTime, expires time.Time
}

// New validates cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	key := cfg.SigningKey
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("devidp: generate key: %w", err)
		}
	}
	return &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      cfg.Now,
		users:    newDirectory(cfg.Users),
		key:      key,
		kid:      thumbprint(&key.PublicKey),
		secure:   strings.HasPrefix(cfg.Issuer, "https://"),
		codes:    map[string]*authCode{},
		refresh:  map[string]*refreshToken{},
		sso:      map[string]*ssoSession{},
		requests: map[string]int{},
		inactive: map[string]bool{},

		// Its own transport: no one else's CloseIdleConnections breaks a delivery.
		webhookClient: &http.Client{Timeout: cfg.WebhookTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}, nil
}

// Handler serves FusionAuth's OAuth endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", s.discovery)
	mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	mux.HandleFunc("GET /oauth2/authorize", s.authorize)
	mux.HandleFunc("POST /oauth2/authorize", s.authorize)
	mux.HandleFunc("POST /oauth2/token", s.token)
	mux.HandleFunc("GET /oauth2/userinfo", s.userinfo)
	mux.HandleFunc("POST /oauth2/userinfo", s.userinfo)
	mux.HandleFunc("GET /oauth2/logout", s.logout)
	mux.HandleFunc("POST /oauth2/introspect", s.introspect)
	mux.HandleFunc("POST /oauth2/device_authorize", s.deviceAuthorize)
	mux.HandleFunc("POST /api/logout", s.logoutAPI)
	s.adminAPI(mux)
	return s.accessLog(mux)
}

// Config returns the effective configuration (defaults applied).
func (s *Server) Config() Config { return s.cfg }

// Issuer returns the configured issuer (no trailing slash).
func (s *Server) Issuer() string { return s.cfg.Issuer }

// ClientID returns the application id / client id.
func (s *Server) ClientID() string { return s.cfg.ClientID }

// ClientSecret returns the client secret (for tests wiring a relying party).
func (s *Server) ClientSecret() string { return s.cfg.ClientSecret }

// KeyID returns the kid of the signing key.
func (s *Server) KeyID() string { return s.kid }

// PublicKey returns the RS256 verification key.
func (s *Server) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// RevokeRefreshTokens deletes every refresh token of a user, like FusionAuth's
// DELETE /api/jwt/refresh?userId=..., and returns how many were revoked. Access tokens already
// issued stay valid until they expire, as in FusionAuth. With a webhook URL it also sends the
// jwt.refresh-token.revoke event (see RevokeUserTokens; a failed delivery is logged).
func (s *Server) RevokeRefreshTokens(userID string) int {
	n, err := s.RevokeUserTokens(context.Background(), userID)
	if err != nil {
		s.log.Warn("webhook not delivered", slog.String("error", err.Error()))
	}
	return n
}

func (s *Server) revokeRefreshTokens(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for tok, rt := range s.refresh {
		if rt.userID == userID {
			delete(s.refresh, tok)
			n++
		}
	}
	s.log.Info("refresh tokens revoked", slog.String("user_id", userID), slog.Int("count", n))
	return n
}

// EndSSOSessions ends every IdP SSO session of a user (the next authorize shows the login form).
func (s *Server) EndSSOSessions(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, ss := range s.sso {
		if ss.userID == userID {
			delete(s.sso, id)
			n++
		}
	}
	return n
}

// TokenRequests counts the requests /oauth2/token received for a grant_type ("authorization_code",
// "refresh_token"), successful or not, so tests can assert how often the IdP was asked.
func (s *Server) TokenRequests(grant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[grant]
}

// RefreshTokenCount returns how many live refresh tokens a user has.
func (s *Server) RefreshTokenCount(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	now := s.now()
	for _, rt := range s.refresh {
		if rt.userID == userID && now.Before(rt.expires) {
			n++
		}
	}
	return n
}

// oauthError is FusionAuth's OAuth error body.
type oauthError struct {
	status      int
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Reason      string `json:"error_reason"`
}

func newError(status int, code, reason, description string) *oauthError {
	return &oauthError{status: status, Error: code, Reason: reason, Description: description}
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode response", slog.String("error", err.Error()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) writeError(w http.ResponseWriter, e *oauthError) {
	if e.status == http.StatusUnauthorized && e.Error == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="FusionAuth"`)
	}
	s.writeJSON(w, e.status, e)
}

// clientAuth authenticates the client by client_secret_basic or client_secret_post. The form must
// have been parsed.
func (s *Server) clientAuth(r *http.Request) *oauthError {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return newError(http.StatusUnauthorized, "invalid_client", "invalid_client_authentication_scheme", "The Authorization header is malformed.")
		}
		if formID := r.PostForm.Get("client_id"); formID != "" && formID != id {
			return newError(http.StatusBadRequest, "invalid_request", "client_id_mismatch", "The client_id parameter does not match the client authenticated by the Authorization header.")
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	switch {
	case id == "" && secret == "":
		return newError(http.StatusUnauthorized, "invalid_client", "client_authentication_missing", "Client authentication is required.")
	case !equalConstantTime(id, s.cfg.ClientID):
		return newError(http.StatusUnauthorized, "invalid_client", "invalid_client_id", "The client_id is invalid.")
	case !equalConstantTime(secret, s.cfg.ClientSecret):
		return newError(http.StatusUnauthorized, "invalid_client", "invalid_client_authentication", "Client authentication failed: the client secret is invalid.")
	}
	return nil
}

func equalConstantTime(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// parseForm reads a urlencoded body of at most 64 KiB.
func parseForm(w http.ResponseWriter, r *http.Request) *oauthError {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return newError(http.StatusBadRequest, "invalid_request", "unknown", "The request body could not be parsed.")
	}
	return nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func hasScope(scope, want string) bool {
	return slices.Contains(strings.Fields(scope), want)
}

// normalizeScope removes duplicates and extra spaces, keeping the order.
func normalizeScope(scope string) string {
	var out []string
	for _, s := range strings.Fields(scope) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// accessLog writes one line per request: method, path (never the query: it carries codes and
// tokens), status, duration.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.log.Info("request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)))
	})
}

func jsonIndent(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return string(b), err
}
