// The token endpoint (/oauth2/token): the authorization_code and
// refresh_token grants. Minting, signing and the other token endpoints
// (JWKS, userinfo, introspect) are in tokens.go.

package devidp

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"time"
)

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if e := parseForm(w, r); e != nil {
		s.writeError(w, e)
		return
	}
	grantType := r.PostForm.Get("grant_type")
	if grantType != "" {
		s.mu.Lock()
		s.requests[grantType]++
		s.mu.Unlock()
	}
	if e := s.clientAuth(r); e != nil {
		s.log.Warn("token: client authentication failed", slog.String("grant_type", grantType), slog.String("error_reason", e.Reason))
		s.writeError(w, e)
		return
	}
	var e *oauthError
	switch grantType {
	case "":
		e = newError(http.StatusBadRequest, "invalid_request", "missing_grant_type", "The request is missing a required parameter: grant_type")
	case "authorization_code":
		e = s.codeGrant(w, r)
	case "refresh_token":
		e = s.refreshGrant(w, r)
	default:
		e = newError(http.StatusBadRequest, "unsupported_grant_type", "invalid_grant_type", "The grant_type is not supported.")
	}
	if e != nil {
		s.log.Info("token: refused", slog.String("grant_type", grantType), slog.String("error", e.Error), slog.String("error_reason", e.Reason))
		s.writeError(w, e)
	}
}

func (s *Server) codeGrant(w http.ResponseWriter, r *http.Request) *oauthError {
	code := r.PostForm.Get("code")
	if code == "" {
		return newError(http.StatusBadRequest, "invalid_request", "missing_code", "The request is missing a required parameter: code")
	}
	now := s.now()
	s.mu.Lock()
	ac, ok := s.codes[code]
	delete(s.codes, code) // single use, whatever happens next
	s.mu.Unlock()
	if !ok || !now.Before(ac.expires) || ac.clientID != s.cfg.ClientID {
		return newError(http.StatusBadRequest, "invalid_grant", "auth_code_not_found", "The authorization code is invalid or has expired.")
	}
	if r.PostForm.Get("redirect_uri") != ac.redirectURI {
		return newError(http.StatusBadRequest, "invalid_grant", "invalid_redirect_uri", "The redirect_uri does not match the one of the authorization request.")
	}
	verifier := r.PostForm.Get("code_verifier")
	switch {
	case ac.challenge == "" && verifier != "":
		return newError(http.StatusBadRequest, "invalid_grant", "invalid_pkce_code_verifier", "A code_verifier was sent but the authorization request had no code_challenge.")
	case ac.challenge != "" && !validVerifier(verifier):
		return newError(http.StatusBadRequest, "invalid_grant", "invalid_pkce_code_verifier", "The code_verifier is missing or malformed.")
	case ac.challenge != "":
		sum := sha256.Sum256([]byte(verifier))
		if !equalConstantTime(b64(sum[:]), ac.challenge) {
			return newError(http.StatusBadRequest, "invalid_grant", "invalid_pkce_code_verifier", "The code_verifier does not match the code_challenge.")
		}
	}
	u := s.users.byID[ac.userID]
	g := grant{
		user: u, clientID: ac.clientID, scope: ac.scope, nonce: ac.nonce, authTime: ac.authTime,
		grantType: "authorization_code", authType: authTypePassword,
	}
	var rt string
	if hasScope(ac.scope, "offline_access") {
		rt, g.refreshID = s.newRefreshToken(g, now)
	}
	s.log.Info("token: issued", slog.String("grant_type", g.grantType), slog.String("user_id", u.ID), slog.Bool("refresh_token", rt != ""))
	s.respond(w, g, rt, true)
	return nil
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request) *oauthError {
	raw := r.PostForm.Get("refresh_token")
	if raw == "" {
		return newError(http.StatusBadRequest, "invalid_request", "missing_refresh_token", "The request is missing a required parameter: refresh_token")
	}
	now := s.now()
	s.mu.Lock()
	rt, ok := s.refresh[raw]
	if ok && (!now.Before(rt.expires) || rt.clientID != s.cfg.ClientID) {
		delete(s.refresh, raw)
		ok = false
	}
	if ok && s.cfg.RotateRefreshTokens {
		delete(s.refresh, raw) // OneTimeUse: the old token dies with this call
	}
	s.mu.Unlock()
	if !ok {
		return newError(http.StatusBadRequest, "invalid_grant", "refresh_token_not_found", "The refresh token is invalid, expired or revoked.")
	}
	u := s.users.byID[rt.userID]
	g := grant{
		user: u, clientID: rt.clientID, scope: rt.scope, authTime: rt.authTime,
		grantType: "refresh_token", authType: authTypeRefresh, refreshID: rt.id,
	}
	var newRT string
	if s.cfg.RotateRefreshTokens {
		newRT, g.refreshID = s.newRefreshToken(g, now)
	}
	s.log.Info("token: issued", slog.String("grant_type", g.grantType), slog.String("user_id", u.ID), slog.Bool("rotated", newRT != ""))
	s.respond(w, g, newRT, false)
	return nil
}

// newRefreshToken stores a refresh token for the grant and returns it with its id.
func (s *Server) newRefreshToken(g grant, now time.Time) (token, id string) {
	token, id = randomToken(40), newUUID()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, rt := range s.refresh { // sweep the expired ones
		if !now.Before(rt.expires) {
			delete(s.refresh, k)
		}
	}
	s.refresh[token] = &refreshToken{
		id: id, clientID: g.clientID, userID: g.user.ID, scope: g.scope,
		authTime: g.authTime, expires: now.Add(s.cfg.RefreshTokenTTL), inserted: now,
	}
	return token, id
}

// validVerifier checks RFC 7636's code_verifier syntax: 43-128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := range len(v) {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
