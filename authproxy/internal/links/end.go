package links

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// Deleter ends one session of a user named by its tag;
// *session.RedisStore implements it (DeleteSession).
type Deleter interface {
	DeleteSession(ctx context.Context, userID, id string) error
}

// Invalidator tells every replica's cache to drop a session, or all of a
// user's; *session.Invalidator implements it.
type Invalidator interface {
	Session(ctx context.Context, id string) error
	User(ctx context.Context, userID string) error
}

// UserDeleter ends every session of a user and names the ones it ended;
// *session.RedisStore implements it (DeleteUserSessions).
type UserDeleter interface {
	DeleteUserSessions(ctx context.Context, userID string) ([]string, error)
}

// TagRevoker records the revocation of the session a tag names, for a
// linked session DeleteSession no longer finds in its user's index;
// *session.RedisStore implements it (RevokeTag).
type TagRevoker interface {
	RevokeTag(ctx context.Context, tag string) error
}

// Ender ends the session a link names, on every replica.
type Ender struct {
	Index   *Index
	Store   Deleter
	Replica Invalidator
	// Users ends all of a user's sessions (EndUser).
	Users UserDeleter
	// Revoker, when set, records the revocation of a linked session that
	// DeleteSession reports not found (its index entry gone), so the
	// revocation feed names it all the same.
	Revoker TagRevoker
}

// Outcome is what EndLinked found and did.
type Outcome struct {
	// Linked: a link names a session of the user (of any user when no
	// user was given).
	Linked bool
	// Ended: that session's record was deleted now.
	Ended bool
}

// End ends the session linked to value. When userID is set, the link must
// name a session of that user (an event's user and the link disagreeing
// ends nothing). It reports whether a session ended; a link to a session
// already gone ends none and is no error. The deletion goes through the
// store's delete function (so whatever it records sees it), then every
// replica drops the session from its cache.
func (e Ender) End(ctx context.Context, kind Kind, value, userID string) (bool, error) {
	o, err := e.EndLinked(ctx, kind, value, userID)
	return o.Ended, err
}

// EndLinked is End, telling apart a value no link names (or one naming
// another user's session: Linked false) from a linked session already
// gone (Linked true, Ended false).
func (e Ender) EndLinked(ctx context.Context, kind Kind, value, userID string) (Outcome, error) {
	t, ok, err := e.Index.Find(ctx, kind, value)
	if err != nil || !ok {
		return Outcome{}, err
	}
	if userID != "" && userID != t.UserID {
		return Outcome{}, nil
	}
	err = e.Store.DeleteSession(ctx, t.UserID, t.Session)
	out := Outcome{Linked: true, Ended: err == nil}
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		return Outcome{}, fmt.Errorf("links: end: %w", err)
	}
	if err != nil && e.Revoker != nil {
		// DeleteSession records nothing when the index lost the tag.
		if err := e.Revoker.RevokeTag(ctx, t.Session); err != nil && !errors.Is(err, session.ErrNotFound) {
			return Outcome{}, fmt.Errorf("links: end: %w", err)
		}
	}
	// Invalidate even when the record was gone: a replica may still hold
	// it for up to its cache TTL.
	if err := e.Replica.Session(ctx, t.Session); err != nil {
		return out, fmt.Errorf("links: end: %w", err)
	}
	return out, nil
}

// EndUser ends every session of userID and tells every replica's cache to
// drop the user's sessions, as the cached store's DeleteUser does, and
// returns how many sessions it ended (for the audit line). The
// invalidation is published even when the deletion failed (some sessions
// may be gone); a failed publish is an error, so a caller that must be
// sure (a webhook) is retried, and a retry publishes again.
func (e Ender) EndUser(ctx context.Context, userID string) (int, error) {
	ended, err := e.Users.DeleteUserSessions(ctx, userID)
	if pubErr := e.Replica.User(ctx, userID); pubErr != nil {
		err = errors.Join(err, pubErr)
	}
	if err != nil {
		return len(ended), fmt.Errorf("links: end user: %w", err)
	}
	return len(ended), nil
}
