package devidp

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
)

// logoutAPI answers POST /api/logout as FusionAuth's Logout API does for a
// client (no API key): the refresh token comes in the JSON body
// (refreshToken, global) or as query parameters, the query taking
// precedence. The token is revoked (with global, every refresh token of its
// user) and the jwt.refresh-token.revoke event FusionAuth sends for it goes
// to the webhook URL. The answer is 200 whatever was revoked: FusionAuth
// does nothing for a request naming no token it holds.
func (s *Server) logoutAPI(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refreshToken"`
		Global       bool   `json:"global"`
	}
	if r.Header.Get("Content-Type") == "application/json" {
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
	}
	q := r.URL.Query()
	if v := q.Get("refreshToken"); v != "" {
		req.RefreshToken = v
	}
	if v, err := strconv.ParseBool(q.Get("global")); err == nil {
		req.Global = v
	}
	var err error
	switch {
	case req.RefreshToken == "":
	case req.Global:
		s.mu.Lock()
		rt, ok := s.refresh[req.RefreshToken]
		s.mu.Unlock()
		if ok {
			_, err = s.RevokeUserTokens(r.Context(), rt.userID)
		}
	default:
		if err = s.RevokeRefreshToken(r.Context(), req.RefreshToken); errors.Is(err, ErrUnknownToken) {
			err = nil
		}
	}
	if err != nil {
		s.log.Warn("webhook not delivered", slog.String("error", err.Error()))
	}
	w.WriteHeader(http.StatusOK)
}
