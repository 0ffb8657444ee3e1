package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// refresher renews a session's access token shortly before it expires:
// single-flight in this process, the session's lock across replicas, and a
// re-read under the lock so only one refresh reaches the IdP. A refresh the
// IdP refuses for good ends the session; a transient failure keeps serving
// the current token while it is valid.
type refresher struct {
	store    session.Store // saves the refreshed session, ends refused ones
	fresh    session.Store // locks and re-reads past any cache
	provider Provider
	metrics  *metrics
	log      *slog.Logger
	now      func() time.Time
	window   time.Duration // the configured refresh-window
	linker                 // links a rotated refresh token to the session
	flight   singleflight.Group
	// lifetime is the shortest access-token lifetime seen (nanoseconds);
	// it clamps the refresh window (refreshWindow).
	lifetime    atomic.Int64
	clampLogged atomic.Bool
	lifetimes   *lifetimeWatch // against the revocation retention
}

// maybeRefresh refreshes the session's access token when it expires within
// the refresh window: single-flight in this process, a Redis lock across
// replicas, and a re-read under the lock so only one refresh reaches the IdP.
// A session without a refresh token ends when its access token expires.
func (r *refresher) maybeRefresh(ctx context.Context, cookie string, sess *session.Session) (*session.Session, error) {
	if r.spent(sess) {
		return nil, errSpent
	}
	if !r.needsRefresh(sess) {
		return sess, nil
	}
	ch := r.flight.DoChan(session.SID(cookie), func() (any, error) {
		// Detached from the first caller's cancellation: others share it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockWait+10*time.Second)
		defer cancel()
		return r.refresh(rctx, cookie)
	})
	// While the current token stays valid, a decision waits for the refresh
	// at most refreshGrace, then serves the current token (the refresh goes
	// on for the next requests). A refresh can be held up for as long as a
	// lock that nobody holds lives: a SET NX that Redis ran after the client
	// had given up (Redis paused, then resumed) leaves one for lockTTL.
	var grace <-chan time.Time
	if r.now().Add(refreshGrace).Before(sess.AccessExpiry) {
		t := time.NewTimer(refreshGrace)
		defer t.Stop()
		grace = t.C
	}
	var res singleflight.Result
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-grace:
		r.log.WarnContext(ctx, "token refresh deferred", slog.String(keyError, "refresh still running after "+refreshGrace.String()))
		return sess, nil
	case res = <-ch:
	}
	if res.Err != nil {
		if classify(res.Err) != kindUnauthenticated && r.now().Before(sess.AccessExpiry) {
			// The IdP or the lock is slow, but the current token is still
			// valid: serve it and try again on a later request.
			r.log.WarnContext(ctx, "token refresh deferred", slog.String(keyError, res.Err.Error()))
			return sess, nil
		}
		return nil, res.Err
	}
	return res.Val.(*session.Session), nil
}

// endSession deletes a session whose refresh failed for good and counts the
// refresh under outcome.
func (r *refresher) endSession(ctx context.Context, cookie string, cur *session.Session, outcome string) {
	r.metrics.refreshes.WithLabelValues(outcome).Inc()
	if err := r.store.Delete(ctx, cookie); err != nil {
		r.metrics.storeErr("delete", err)
	}
	r.log.InfoContext(ctx, "refresh refused; session ended", slog.String(keySubject, cur.UserID), slog.String(keyOutcome, outcome))
}

var errSpent = fmt.Errorf("%w: access token expired and no refresh token", session.ErrExpired)

// spent: the session's access token has expired and it has no refresh
// token to get another, so the session is over.
func (r *refresher) spent(sess *session.Session) bool {
	return sess.RefreshToken == "" && !r.now().Before(sess.AccessExpiry)
}

func (r *refresher) needsRefresh(sess *session.Session) bool {
	return sess.RefreshToken != "" && !r.now().Add(r.refreshWindow()).Before(sess.AccessExpiry)
}

// refreshWindow is the configured refresh-window, clamped to half the
// shortest access-token lifetime seen: a window as long as the lifetime
// would refresh on every request.
func (r *refresher) refreshWindow() time.Duration {
	w := r.window
	if l := time.Duration(r.lifetime.Load()); l > 0 && w >= l {
		return l / 2
	}
	return w
}

// observeLifetime records an access-token lifetime from the provider and
// says once when it clamps the refresh window (and, through lifetimes,
// once when it exceeds the revocation retention).
func (r *refresher) observeLifetime(ctx context.Context, l time.Duration) {
	if l <= 0 {
		return
	}
	r.lifetimes.observe(ctx, l)
	for {
		cur := r.lifetime.Load()
		if cur != 0 && time.Duration(cur) <= l {
			break
		}
		if r.lifetime.CompareAndSwap(cur, int64(l)) {
			break
		}
	}
	if r.window >= l && !r.clampLogged.Swap(true) {
		r.log.WarnContext(ctx, "refresh-window is not shorter than the provider's access-token lifetime; clamped to half the lifetime so tokens are not refreshed on every request",
			slog.Duration(keyRefreshWindow, r.window), slog.Duration(keyTokenLifetime, l), slog.Duration(keyClampedTo, l/2))
	}
}

func (r *refresher) refresh(ctx context.Context, cookie string) (*session.Session, error) {
	release, err := session.WaitLock(ctx, r.fresh, cookie, lockTTL, lockWait)
	if err != nil {
		r.metrics.storeErr("lock", err)
		r.metrics.refreshes.WithLabelValues("lock_failed").Inc()
		return nil, err
	}
	defer release()
	// Re-read without the cache: another replica may have refreshed while
	// we waited for the lock.
	cur, err := r.fresh.Load(ctx, cookie)
	if err != nil {
		r.metrics.storeErr("load", err)
		return nil, err
	}
	if !r.needsRefresh(cur) {
		r.metrics.refreshes.WithLabelValues("shared").Inc()
		return cur, nil
	}
	toks, err := r.provider.Refresh(ctx, cur.RefreshToken)
	if errors.Is(err, oidc.ErrInvalidGrant) {
		r.endSession(ctx, cookie, cur, "invalid_grant")
		return nil, err
	}
	if errors.Is(err, oidc.ErrAccessToken) {
		// The IdP answered, but not with an access token for this
		// application: the refresh token may be spent, and nothing in the
		// answer can be trusted.
		r.endSession(ctx, cookie, cur, "rejected")
		return nil, err
	}
	if err != nil {
		r.metrics.refreshes.WithLabelValues("error").Inc()
		return nil, err
	}
	if u := toks.User; u != nil {
		if u.ID != cur.UserID {
			r.endSession(ctx, cookie, cur, "rejected")
			return nil, errors.Join(ErrUnauthenticated, errors.New("refresh returned another subject"))
		}
		if toks.Access != nil { // roles come from JWT access tokens only
			cur.Roles, cur.Branches = u.Roles, u.Branches
		}
		if u.TenantID != "" {
			cur.TenantID = u.TenantID
		}
	}
	r.observeLifetime(ctx, toks.Lifetime)
	cur.AccessToken, cur.AccessExpiry = toks.AccessToken, toks.Expiry
	if toks.RefreshToken != "" {
		cur.RefreshToken = toks.RefreshToken // rotated (or the same)
	}
	if toks.IDToken != "" {
		cur.IDToken = toks.IDToken
	}
	if err := r.store.Save(ctx, cookie, cur); err != nil {
		r.metrics.storeErr("save", err)
		r.metrics.refreshes.WithLabelValues("error").Inc()
		return nil, err
	}
	r.link(ctx, cookie, cur.UserID, toks)
	r.metrics.refreshes.WithLabelValues("refreshed").Inc()
	return cur, nil
}
