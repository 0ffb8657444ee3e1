package devidp

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Authentication types FusionAuth puts in authenticationType.
const (
	authTypePassword = "PASSWORD"
	authTypeRefresh  = "REFRESH_TOKEN"
)

// thumbprint is the RFC 7638 JWK thumbprint of an RSA key, used as kid.
func thumbprint(pub *rsa.PublicKey) string {
	canonical := fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, b64(big.NewInt(int64(pub.E)).Bytes()), b64(pub.N.Bytes()))
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type jwk struct {
	Alg string `json:"alg"`
	E   string `json:"e"`
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	N   string `json:"n"`
	Use string `json:"use"`
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := s.key.PublicKey
	s.writeJSON(w, http.StatusOK, map[string][]jwk{"keys": {{
		Alg: "RS256", Kty: "RSA", Use: "sig", Kid: s.kid,
		E: b64(big.NewInt(int64(pub.E)).Bytes()), N: b64(pub.N.Bytes()),
	}}})
}

// grant is what a token response is built from.
type grant struct {
	user      *user
	clientID  string
	scope     string
	nonce     string
	authTime  time.Time
	grantType string // authorization_code | refresh_token
	authType  string // PASSWORD | REFRESH_TOKEN
	refreshID string // sid, when a refresh token exists
}

func (s *Server) sign(header map[string]any, claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.kid
	t.Header["typ"] = "JWT"
	for k, v := range header {
		t.Header[k] = v
	}
	return t.SignedString(s.key)
}

// commonClaims are the claims FusionAuth puts in both the access token and the id_token.
func (s *Server) commonClaims(g grant, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud":                g.clientID,
		"exp":                now.Add(s.cfg.AccessTokenTTL).Unix(),
		"iat":                now.Unix(),
		"iss":                s.cfg.Issuer,
		"sub":                g.user.ID,
		"jti":                newUUID(),
		"authenticationType": g.authType,
		"auth_time":          g.authTime.Unix(),
		"tid":                s.cfg.TenantID,
	}
}

// accessToken mints a FusionAuth-shaped access token.
func (s *Server) accessToken(g grant, now time.Time) (string, error) {
	c := s.commonClaims(g, now)
	c["scope"] = g.scope
	if g.refreshID != "" {
		c["sid"] = g.refreshID
	}
	if reg := g.user.Registration; reg != nil {
		c["applicationId"] = g.clientID
		c["roles"] = nonNil(s.currentRoles(g.user))
		if len(reg.Data.Branches) > 0 {
			c["branches"] = reg.Data.Branches
		}
	}
	return s.sign(map[string]any{"gty": []string{g.grantType}}, c)
}

// idToken mints the id_token: identity only, never roles or applicationId.
func (s *Server) idToken(g grant, accessToken string, now time.Time) (string, error) {
	sum := sha256.Sum256([]byte(accessToken))
	c := s.commonClaims(g, now)
	c["at_hash"] = b64(sum[:len(sum)/2])
	c["email"] = g.user.Email
	c["email_verified"] = g.user.emailVerified()
	c["name"] = g.user.Name
	if g.nonce != "" {
		c["nonce"] = g.nonce
	}
	return s.sign(nil, c)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var errNotAccessToken = errors.New("devidp: not an access token")

// verifyAccessToken checks an access token minted by this server: signature, RS256 only, kid,
// issuer, expiry, and the gty header that only access tokens carry.
func (s *Server) verifyAccessToken(raw string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.kid {
			return nil, errors.New("devidp: unknown kid")
		}
		return &s.key.PublicKey, nil
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return nil, err
	}
	if _, ok := tok.Header["gty"]; !ok {
		return nil, errNotAccessToken
	}
	return claims, nil
}

// tokenResponse has FusionAuth's token response fields.
type tokenResponse struct {
	AccessToken    string `json:"access_token"`
	ExpiresIn      int64  `json:"expires_in"`
	IDToken        string `json:"id_token,omitempty"`
	RefreshToken   string `json:"refresh_token,omitempty"`
	RefreshTokenID string `json:"refresh_token_id,omitempty"`
	Scope          string `json:"scope,omitempty"`
	TokenType      string `json:"token_type"`
	UserID         string `json:"userId"`
}

// respond mints the tokens of a grant. refreshToken/refreshID are echoed when non-empty.
func (s *Server) respond(w http.ResponseWriter, g grant, refreshToken string, withScope bool) {
	now := s.now()
	at, err := s.accessToken(g, now)
	if err != nil {
		s.writeError(w, newError(http.StatusInternalServerError, "server_error", "unknown", "The token could not be signed."))
		return
	}
	resp := tokenResponse{
		AccessToken: at,
		ExpiresIn:   int64(s.cfg.AccessTokenTTL / time.Second),
		TokenType:   "Bearer",
		UserID:      g.user.ID,
	}
	if withScope {
		resp.Scope = g.scope
	}
	if refreshToken != "" {
		resp.RefreshToken, resp.RefreshTokenID = refreshToken, g.refreshID
	}
	if hasScope(g.scope, "openid") {
		if resp.IDToken, err = s.idToken(g, at, now); err != nil {
			s.writeError(w, newError(http.StatusInternalServerError, "server_error", "unknown", "The token could not be signed."))
			return
		}
	}
	s.writeJSON(w, http.StatusOK, resp)
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	raw, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="FusionAuth"`)
		s.writeJSON(w, http.StatusUnauthorized, newError(http.StatusUnauthorized, "invalid_request", "access_token_required", "An access token is required."))
		return
	}
	claims, err := s.verifyAccessToken(raw)
	if err != nil {
		reason := "access_token_invalid"
		if errors.Is(err, jwt.ErrTokenExpired) {
			reason = "access_token_expired"
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="FusionAuth", error="invalid_token"`)
		s.writeJSON(w, http.StatusUnauthorized, newError(http.StatusUnauthorized, "invalid_token", reason, "The access token is invalid or expired."))
		return
	}
	sub, _ := claims["sub"].(string)
	u, ok := s.users.byID[sub]
	if !ok {
		s.writeJSON(w, http.StatusUnauthorized, newError(http.StatusUnauthorized, "invalid_token", "user_not_found", "The user no longer exists."))
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"sub":            u.ID,
		"email":          u.Email,
		"email_verified": u.emailVerified(),
		"name":           u.Name,
	})
}

func bearer(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !equalFoldASCII(h[:len(prefix)], prefix) {
		return "", false
	}
	tok := h[len(prefix):]
	for _, c := range tok {
		if c <= ' ' || c > '~' {
			return "", false
		}
	}
	return tok, true
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	if e := parseForm(w, r); e != nil {
		s.writeError(w, e)
		return
	}
	if e := s.clientAuth(r); e != nil {
		s.writeError(w, e)
		return
	}
	raw := r.PostForm.Get("token")
	if raw == "" {
		s.writeError(w, newError(http.StatusBadRequest, "invalid_request", "missing_token", "The request is missing a required parameter: token"))
		return
	}
	claims, err := s.verifyAccessToken(raw)
	if err != nil {
		s.writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	out := map[string]any{"active": true}
	for k, v := range claims {
		out[k] = v
	}
	// FusionAuth adds the user's email to the introspection answer.
	if sub, _ := claims["sub"].(string); s.users.byID[sub] != nil {
		u := s.users.byID[sub]
		out["email"] = u.Email
		out["email_verified"] = u.emailVerified()
	}
	s.writeJSON(w, http.StatusOK, out)
}
