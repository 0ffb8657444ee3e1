package sessiontest

import (
	"context"
	"slices"
	"strings"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// UserSessions lists userID's sessions, as RedisStore.UserSessions does:
// each named by its cookie id (not a tag: Memory keeps no tags), with its
// absolute and idle expiry, by id. All are live (Memory drops an expired
// session when it is next loaded).
func (m *Memory) UserSessions(_ context.Context, userID string) ([]session.SessionInfo, error) {
	m.calls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.unavailable("user sessions"); err != nil {
		return nil, err
	}
	var out []session.SessionInfo
	for id, rec := range m.sessions {
		if rec.sess.UserID == userID {
			out = append(out, session.SessionInfo{
				ID:          id,
				Expires:     rec.sess.CreatedAt.Add(m.limits.Lifetime),
				IdleExpires: rec.sess.LastSeen.Add(m.limits.IdleTimeout),
			})
		}
	}
	slices.SortFunc(out, func(a, b session.SessionInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
