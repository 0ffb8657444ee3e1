package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gatewarden/gatewarden/authproxy/internal/audit"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// logoutEverywherePath is the "log out everywhere" endpoint (POST).
const logoutEverywherePath = "/oauth2/logout/everywhere"

// logoutEverywhere ends every session of the request's user, on every
// replica (the store's DeleteUser publishes the invalidation), clears the
// cookie and leaves as logout does. It takes the same CSRF protection as
// logout (POST, same-origin Origin or Referer). Without a live session it
// only clears the cookie: a cookie names one session, and a session that
// is gone names no user whose other sessions could be ended.
func (s *Server) logoutEverywhere(w http.ResponseWriter, r *http.Request) error {
	if !s.sameOriginRequest(r) {
		return fmt.Errorf("%w: logout everywhere from a foreign origin", ErrCSRF)
	}
	var idToken, refreshToken string
	if c, err := r.Cookie(s.cookie.name); err == nil && c.Value != "" {
		sess, err := s.fresh.Load(r.Context(), c.Value)
		switch {
		case err == nil:
			idToken, refreshToken = sess.IDToken, sess.RefreshToken
			live := s.liveSessions(r.Context(), sess.UserID)
			if err := s.store.DeleteUser(r.Context(), sess.UserID); err != nil {
				s.metrics.storeErr("delete_user", err)
				// The sessions may all survive: keep the cookie, say so.
				return err
			}
			s.log.InfoContext(r.Context(), "logged out everywhere", slog.String(keySubject, sess.UserID))
			audit.EverywhereRevoked(r.Context(), s.log, sess.UserID, session.SID(c.Value), live)
		case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrExpired), errors.Is(err, session.ErrMalformedCookie):
		default:
			s.metrics.storeErr("load", err)
			return err
		}
	}
	s.cookie.set(w, s.cookie.name, "", -1)
	// Only this session's refresh token can be read (the others are sealed
	// under their own cookies); theirs die with the provider's revocation
	// of the user's sessions, if configured, or at their expiry.
	s.revokeAtIdP(r.Context(), refreshToken)
	s.leave(w, r, idToken)
	return nil
}

// userSessions lists a user's sessions; *session.RedisStore implements it.
type userSessions interface {
	UserSessions(ctx context.Context, userID string) ([]session.SessionInfo, error)
}

// liveSessions counts userID's live sessions, read before "log out
// everywhere" ends them, for its audit line; -1 when the store cannot
// tell (the line then has no count).
func (s *Server) liveSessions(ctx context.Context, userID string) int {
	us, ok := s.fresh.(userSessions)
	if !ok {
		return -1
	}
	infos, err := us.UserSessions(ctx, userID)
	if err != nil {
		return -1
	}
	n := 0
	for _, in := range infos {
		if in.Live() {
			n++
		}
	}
	return n
}
