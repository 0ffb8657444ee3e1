package devidp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// EventRegistrationUpdate is the event SetRoles sends.
const EventRegistrationUpdate = "user.registration.update"

// ErrUnknownToken is returned by RevokeRefreshToken for a token the dev IdP
// does not hold.
var ErrUnknownToken = errors.New("devidp: unknown refresh token")

// ErrNotRegistered is returned by SetRoles for a user not registered to the
// application.
var ErrNotRegistered = errors.New("devidp: user not registered")

// RevokeRefreshToken deletes one refresh token, as FusionAuth's DELETE
// /api/jwt/refresh?token=... does, and sends the jwt.refresh-token.revoke
// event of one token: applicationId, userId, user, refreshToken (FusionAuth's
// RefreshToken object: id, token, applicationId, userId, tenantId,
// insertInstant, startInstant, metaData) and linkedObjectId (the token's
// id, the access tokens' sid). An unknown token is ErrUnknownToken and
// sends nothing.
func (s *Server) RevokeRefreshToken(ctx context.Context, token string) error {
	s.mu.Lock()
	rt, ok := s.refresh[token]
	delete(s.refresh, token)
	s.mu.Unlock()
	if !ok {
		return ErrUnknownToken
	}
	u := s.users.byID[rt.userID]
	s.log.Info("refresh token revoked", slog.String("user_id", rt.userID))
	return s.emit(ctx, map[string]any{
		"type":           EventRefreshTokenRevoke,
		"applicationId":  rt.clientID,
		"userId":         rt.userID,
		"user":           s.eventUser(u),
		"refreshToken":   s.eventRefreshToken(token, rt),
		"linkedObjectId": rt.id,
		"applicationTimeToLiveInSeconds": map[string]int64{
			rt.clientID: int64(s.cfg.AccessTokenTTL / time.Second),
		},
	})
}

// RevokeApplicationTokens deletes every refresh token of the application,
// as FusionAuth's DELETE /api/jwt/refresh?applicationId=... does, and sends
// the jwt.refresh-token.revoke event of a whole application (applicationId
// only). It returns how many tokens were revoked.
func (s *Server) RevokeApplicationTokens(ctx context.Context) (int, error) {
	s.mu.Lock()
	n := 0
	for tok, rt := range s.refresh {
		if rt.clientID == s.cfg.ClientID {
			delete(s.refresh, tok)
			n++
		}
	}
	s.mu.Unlock()
	s.log.Info("application refresh tokens revoked", slog.Int("count", n))
	return n, s.emit(ctx, map[string]any{
		"type":          EventRefreshTokenRevoke,
		"applicationId": s.cfg.ClientID,
		"applicationTimeToLiveInSeconds": map[string]int64{
			s.cfg.ClientID: int64(s.cfg.AccessTokenTTL / time.Second),
		},
	})
}

// SetRoles replaces a user's roles in the application, as FusionAuth's
// PUT /api/user/registration/{userId} does: tokens minted from now on carry
// them, and the user.registration.update event (applicationId, original and
// registration with their roles, user) goes to the webhook URL.
func (s *Server) SetRoles(ctx context.Context, userID string, roles []string) error {
	u, ok := s.users.byID[userID]
	if !ok {
		return ErrUnknownUser
	}
	if u.Registration == nil {
		return ErrNotRegistered
	}
	s.mu.Lock()
	before := s.currentRolesLocked(u)
	if s.roles == nil {
		s.roles = map[string][]string{}
	}
	s.roles[userID] = slices.Clone(roles)
	s.mu.Unlock()
	s.log.Info("roles changed", slog.String("user_id", userID), slog.Any("roles", roles))
	reg := func(r []string) map[string]any {
		return map[string]any{"applicationId": s.cfg.ClientID, "roles": nonNil(r), "verified": true}
	}
	return s.emit(ctx, map[string]any{
		"type":          EventRegistrationUpdate,
		"applicationId": s.cfg.ClientID,
		"original":      reg(before),
		"registration":  reg(roles),
		"user":          s.eventUser(u),
	})
}

// currentRoles are the user's roles in the application now.
func (s *Server) currentRoles(u *user) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.currentRolesLocked(u)
}

func (s *Server) currentRolesLocked(u *user) []string {
	if r, ok := s.roles[u.ID]; ok {
		return slices.Clone(r)
	}
	if u.Registration == nil {
		return nil
	}
	return slices.Clone(u.Registration.Roles)
}

// eventUser is an event's user object, FusionAuth's fields that matter.
func (s *Server) eventUser(u *user) map[string]any {
	if u == nil {
		return nil
	}
	return map[string]any{
		"id": u.ID, "email": u.Email, "fullName": u.Name, "active": s.active(u.ID),
		"tenantId": s.cfg.TenantID, "verified": u.emailVerified(),
	}
}

// revokeOneAPI answers DELETE /api/jwt/refresh?token=...: 200 once revoked
// (the event's delivery failure is logged), 404 for an unknown token.
func (s *Server) revokeOneAPI(w http.ResponseWriter, r *http.Request, token string) {
	err := s.RevokeRefreshToken(r.Context(), token)
	switch {
	case errors.Is(err, ErrUnknownToken):
		w.WriteHeader(http.StatusNotFound)
		return
	case err != nil:
		s.log.Warn("webhook not delivered", slog.String("error", err.Error()))
	}
	w.WriteHeader(http.StatusOK)
}

// revokeAppAPI answers DELETE /api/jwt/refresh?applicationId=...: 200 once
// revoked, 404 for another application.
func (s *Server) revokeAppAPI(w http.ResponseWriter, r *http.Request, app string) {
	if app != s.cfg.ClientID {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if _, err := s.RevokeApplicationTokens(r.Context()); err != nil {
		s.log.Warn("webhook not delivered", slog.String("error", err.Error()))
	}
	w.WriteHeader(http.StatusOK)
}

// setRolesAPI answers PUT /api/user/registration/{userId} with the body
// {"registration":{"applicationId":...,"roles":[...]}}: only the roles of
// this application change.
func (s *Server) setRolesAPI(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Registration *struct {
			ApplicationID string   `json:"applicationId"`
			Roles         []string `json:"roles"`
		} `json:"registration"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.Registration == nil || req.Registration.ApplicationID != s.cfg.ClientID {
		s.writeJSON(w, http.StatusBadRequest, map[string]any{"fieldErrors": map[string]any{"registration.applicationId": []map[string]string{{"code": "[invalid]registration.applicationId"}}}})
		return
	}
	err := s.SetRoles(r.Context(), r.PathValue("userId"), req.Registration.Roles)
	switch {
	case errors.Is(err, ErrUnknownUser), errors.Is(err, ErrNotRegistered):
		w.WriteHeader(http.StatusNotFound)
		return
	case err != nil:
		s.log.Warn("webhook not delivered", slog.String("error", err.Error()))
	}
	w.WriteHeader(http.StatusOK)
}

// eventRefreshToken is rt as FusionAuth's RefreshToken object in an event.
func (s *Server) eventRefreshToken(token string, rt *refreshToken) map[string]any {
	return map[string]any{
		"id":            rt.id,
		"token":         token,
		"applicationId": rt.clientID,
		"userId":        rt.userID,
		"tenantId":      s.cfg.TenantID,
		"insertInstant": rt.inserted.UnixMilli(),
		"startInstant":  rt.authTime.UnixMilli(),
		"metaData":      map[string]any{"scopes": strings.Fields(rt.scope)},
	}
}
