package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/jwtauth"
)

// Dialects: how the original request reaches /authz.
const (
	dialectForwarded = "forwarded" // Traefik ForwardAuth, Caddy forward_auth
	dialectNginx     = "nginx"     // nginx auth_request, ingress-nginx auth-url
	dialectEnvoy     = "envoy"     // Envoy HTTP ext_authz
)

// principal is who a request acts as: a session's user or a bearer token's.
type principal struct {
	userID, email, name, tenantID string
	roles, branches               []string
	accessToken                   string // FusionAuth access token (for forward: access-token)
	sid                           string // the gateway token's sid claim
}

// result is the outcome of one decision, for the response, log and metrics.
type result struct {
	req   forward.Request
	rule  *policy.Rule
	p     *principal
	token string
	err   error
}

func (s *Server) decisionHandler(dialect string) http.Handler {
	hist := s.metrics.latency.WithLabelValues(dialect)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		res := s.decide(r, dialect)
		if res.err != nil {
			writeError(w, res.err, dialect)
		} else {
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			if res.token != "" {
				h.Set("Authorization", "Bearer "+res.token)
			}
			if s.cfg.PassUserHeaders {
				// Always present on an allow, empty for anonymous requests: proxies
				// that copy these answer headers (Envoy headersToBackend, Caddy
				// copy_headers, nginx auth_request_set) then overwrite any copy the
				// client sent instead of letting it through.
				var user, email string
				if res.p != nil {
					user, email = res.p.userID, res.p.email
				}
				h[HeaderUser] = []string{user}
				h[HeaderEmail] = []string{email}
			}
			w.WriteHeader(http.StatusOK)
		}
		elapsed := time.Since(start)
		hist.Observe(elapsed.Seconds())
		s.logDecision(r, dialect, res, elapsed)
	})
}

func outcomeOf(err error) string {
	if err == nil {
		return outcomeAllow
	}
	return classify(err).answer().outcome
}

func (s *Server) logDecision(r *http.Request, dialect string, res result, elapsed time.Duration) {
	outcome := outcomeOf(res.err)
	ruleName := ""
	if res.rule != nil {
		ruleName = res.rule.Name
	}
	s.metrics.decision(ruleName, outcome)
	level := slog.LevelInfo
	switch outcome {
	case outcomeUntrusted:
		level = slog.LevelWarn
	case outcomeUnavailable, outcomeError:
		level = slog.LevelError
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return // build no attributes nobody reads
	}
	subject := ""
	if res.p != nil {
		subject = res.p.userID
	}
	attrs := []slog.Attr{
		slog.String(keyRule, ruleName), slog.String(keySubject, subject), slog.String(keyOutcome, outcome),
		slog.String(keyDialect, dialect), slog.String(keyMethod, res.req.Method), slog.String(keyHost, res.req.Host),
		slog.String(keyPath, res.req.Path), slog.Duration(keyDuration, elapsed),
	}
	if outcome == outcomeUntrusted {
		attrs = append(attrs, slog.String(keyPeer, peerIP(r)))
	}
	if res.err != nil && outcome != outcomeAllow {
		attrs = append(attrs, slog.String(keyError, res.err.Error()))
	}
	s.log.LogAttrs(ctx, level, "decision", attrs...)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) parse(r *http.Request, dialect string) (forward.Request, error) {
	switch dialect {
	case dialectNginx:
		return s.parser.Nginx(r)
	case dialectEnvoy:
		return s.parser.Envoy(r, envoyPrefix)
	}
	return s.parser.Forwarded(r)
}

// decide runs the request flow: original request, first
// matching rule, credential, access check, token.
func (s *Server) decide(r *http.Request, dialect string) result {
	ctx := r.Context()
	req, err := s.parse(r, dialect)
	if err != nil {
		return result{err: err}
	}
	res := result{req: req}
	rule, ok := s.cfg.Rules.Match(req.Host, req.Method, req.Path)
	if !ok {
		res.err = &decisionError{err: ErrNoRule}
		return res
	}
	res.rule = rule
	if rule.Access == policy.AccessDeny {
		res.err = &decisionError{err: ErrForbidden, rule: rule.Name}
		return res
	}
	if err := s.checkCrossSite(r, req); err != nil {
		res.err = &decisionError{err: err, rule: rule.Name}
		return res
	}
	p, err := s.credential(ctx, r)
	if err != nil && !rule.NeedsSession() {
		// Public rules pass even when the credential cannot be checked
		// (store down, expired session, bad token): as anonymous.
		p, err = nil, nil
	}
	if err == nil && p == nil && rule.NeedsSession() {
		err = ErrUnauthenticated
	}
	if err != nil {
		if classify(err) == kindUnauthenticated {
			err = &decisionError{
				err: ErrUnauthenticated, rule: rule.Name,
				loginURL: s.loginURL(req),
				redirect: dialect != dialectNginx && isBrowser(r, req),
				invalid:  errors.Is(err, oidc.ErrAccessToken) || errors.Is(err, errBadBearer),
			}
		}
		res.err = err
		return res
	}
	res.p = p
	if p != nil && !rule.Allows(p.roles) {
		res.err = &decisionError{err: ErrForbidden, rule: rule.Name, anyOf: rule.AnyOf}
		return res
	}
	res.token, res.err = s.forwardToken(rule, p)
	return res
}

// forwardToken is the credential handed to the upstream.
func (s *Server) forwardToken(rule *policy.Rule, p *principal) (string, error) {
	if rule.Forward == policy.ForwardAccessToken {
		if p == nil {
			return "", nil // public rule, nobody logged in: nothing to forward
		}
		return p.accessToken, nil
	}
	return s.tokens.get(p, rule.Upstream, s.metrics)
}

// isBrowser: a top-level navigation that can follow a redirect to the login
// page: GET/HEAD, accepts HTML, not XHR.
func isBrowser(r *http.Request, req forward.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	if strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest") {
		return false
	}
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" && m != "navigate" {
		return false
	}
	return strings.Contains(strings.ToLower(strings.Join(r.Header.Values("Accept"), ",")), "text/html")
}

// loginURL is /oauth2/start on the public URL. Its rd is the original URL
// when the request's host is allow-listed (the host a client sent is never
// trusted on its own), else the original path on the public host, and "/"
// when the return URL check refuses both.
func (s *Server) loginURL(req forward.Request) string {
	rd := req.URI
	if !s.sameOrigin(req.Scheme, req.Host) && s.allowedHost(req.Host) {
		rd = req.Scheme + "://" + req.Host + req.URI
	}
	if _, ok := s.checkRedirect(rd); !ok {
		rd = "/"
	}
	return s.origin + s.public.Path + startPath + "?rd=" + url.QueryEscape(rd)
}

var errBadBearer = errors.New("malformed bearer credential")

// credential finds who the request acts as: a bearer FusionAuth access token
// (API clients) or the session cookie. nil, nil means no credential.
func (s *Server) credential(ctx context.Context, r *http.Request) (*principal, error) {
	if h := r.Header.Get("Authorization"); h != "" && hasScheme(h, "bearer") {
		raw, err := jwtauth.BearerToken(h)
		if err != nil {
			return nil, errors.Join(ErrUnauthenticated, errBadBearer)
		}
		claims, u, err := s.provider.VerifyAccessToken(ctx, raw)
		if err != nil {
			// The reason (issuer, audience, key, expiry, id_token) for the
			// operator; never the token.
			s.log.WarnContext(ctx, "bearer token refused", slog.String(keyError, err.Error()))
			return nil, err
		}
		return &principal{
			userID: u.ID, email: u.Email, name: u.Name, tenantID: u.TenantID, roles: u.Roles, branches: u.Branches,
			accessToken: raw, sid: claims.SessionID,
		}, nil
	}
	c, err := r.Cookie(s.cookie.name)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	sess, err := s.store.Load(ctx, c.Value)
	if err != nil {
		s.storeErr("load", err)
		return nil, err
	}
	sess, err = s.maybeRefresh(ctx, c.Value, sess)
	if err != nil {
		return nil, err
	}
	sid := session.SID(c.Value)
	return &principal{
		userID: sess.UserID, email: sess.Email, name: sess.Name, tenantID: sess.TenantID,
		roles: sess.Roles, branches: sess.Branches, accessToken: sess.AccessToken, sid: sid,
	}, nil
}

func hasScheme(h, scheme string) bool {
	return len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) && h[len(scheme)] == ' '
}

// maybeRefresh refreshes the session's access token when it expires within
// the refresh window: single-flight in this process, a Redis lock across
// replicas, and a re-read under the lock so only one refresh reaches the IdP.
// A session without a refresh token ends when its access token expires.
func (s *Server) maybeRefresh(ctx context.Context, cookie string, sess *session.Session) (*session.Session, error) {
	if s.spent(sess) {
		return nil, errSpent
	}
	if !s.needsRefresh(sess) {
		return sess, nil
	}
	ch := s.flight.DoChan(session.SID(cookie), func() (any, error) {
		// Detached from the first caller's cancellation: others share it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockWait+10*time.Second)
		defer cancel()
		return s.refresh(rctx, cookie)
	})
	// While the current token stays valid, a decision waits for the refresh
	// at most refreshGrace, then serves the current token (the refresh goes
	// on for the next requests). A refresh can be held up for as long as a
	// lock that nobody holds lives: a SET NX that Redis ran after the client
	// had given up (Redis paused, then resumed) leaves one for lockTTL.
	var grace <-chan time.Time
	if s.now().Add(refreshGrace).Before(sess.AccessExpiry) {
		t := time.NewTimer(refreshGrace)
		defer t.Stop()
		grace = t.C
	}
	var res singleflight.Result
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-grace:
		s.log.WarnContext(ctx, "token refresh deferred", slog.String(keyError, "refresh still running after "+refreshGrace.String()))
		return sess, nil
	case res = <-ch:
	}
	if res.Err != nil {
		if classify(res.Err) != kindUnauthenticated && s.now().Before(sess.AccessExpiry) {
			// The IdP or the lock is slow, but the current token is still
			// valid: serve it and try again on a later request.
			s.log.WarnContext(ctx, "token refresh deferred", slog.String(keyError, res.Err.Error()))
			return sess, nil
		}
		return nil, res.Err
	}
	return res.Val.(*session.Session), nil
}

// endSession deletes a session whose refresh failed for good and counts the
// refresh under outcome.
func (s *Server) endSession(ctx context.Context, cookie string, cur *session.Session, outcome string) {
	s.metrics.refreshes.WithLabelValues(outcome).Inc()
	if err := s.store.Delete(ctx, cookie); err != nil {
		s.storeErr("delete", err)
	}
	s.log.InfoContext(ctx, "refresh refused; session ended", slog.String(keySubject, cur.UserID), slog.String(keyOutcome, outcome))
}

var errSpent = fmt.Errorf("%w: access token expired and no refresh token", session.ErrExpired)

// spent: the session's access token has expired and it has no refresh
// token to get another, so the session is over.
func (s *Server) spent(sess *session.Session) bool {
	return sess.RefreshToken == "" && !s.now().Before(sess.AccessExpiry)
}

func (s *Server) needsRefresh(sess *session.Session) bool {
	return sess.RefreshToken != "" && !s.now().Add(s.refreshWindow()).Before(sess.AccessExpiry)
}

// refreshWindow is the configured refresh-window, clamped to half the
// shortest access-token lifetime seen: a window as long as the lifetime
// would refresh on every request.
func (s *Server) refreshWindow() time.Duration {
	w := s.cfg.RefreshWindow
	if l := time.Duration(s.lifetime.Load()); l > 0 && w >= l {
		return l / 2
	}
	return w
}

// observeLifetime records an access-token lifetime from the provider and
// says once when it clamps the refresh window.
func (s *Server) observeLifetime(ctx context.Context, l time.Duration) {
	if l <= 0 {
		return
	}
	for {
		cur := s.lifetime.Load()
		if cur != 0 && time.Duration(cur) <= l {
			break
		}
		if s.lifetime.CompareAndSwap(cur, int64(l)) {
			break
		}
	}
	if s.cfg.RefreshWindow >= l && !s.clampLogged.Swap(true) {
		s.log.WarnContext(ctx, "refresh-window is not shorter than the provider's access-token lifetime; clamped to half the lifetime so tokens are not refreshed on every request",
			slog.Duration(keyRefreshWindow, s.cfg.RefreshWindow), slog.Duration(keyTokenLifetime, l), slog.Duration(keyClampedTo, l/2))
	}
}

func (s *Server) refresh(ctx context.Context, cookie string) (*session.Session, error) {
	release, err := session.WaitLock(ctx, s.fresh, cookie, lockTTL, lockWait)
	if err != nil {
		s.storeErr("lock", err)
		s.metrics.refreshes.WithLabelValues("lock_failed").Inc()
		return nil, err
	}
	defer release()
	// Re-read without the cache: another replica may have refreshed while
	// we waited for the lock.
	cur, err := s.fresh.Load(ctx, cookie)
	if err != nil {
		s.storeErr("load", err)
		return nil, err
	}
	if !s.needsRefresh(cur) {
		s.metrics.refreshes.WithLabelValues("shared").Inc()
		return cur, nil
	}
	toks, err := s.provider.Refresh(ctx, cur.RefreshToken)
	if errors.Is(err, oidc.ErrInvalidGrant) {
		s.endSession(ctx, cookie, cur, "invalid_grant")
		return nil, err
	}
	if errors.Is(err, oidc.ErrAccessToken) {
		// The IdP answered, but not with an access token for this
		// application: the refresh token may be spent, and nothing in the
		// answer can be trusted.
		s.endSession(ctx, cookie, cur, "rejected")
		return nil, err
	}
	if err != nil {
		s.metrics.refreshes.WithLabelValues("error").Inc()
		return nil, err
	}
	if u := toks.User; u != nil {
		if u.ID != cur.UserID {
			s.endSession(ctx, cookie, cur, "rejected")
			return nil, errors.Join(ErrUnauthenticated, errors.New("refresh returned another subject"))
		}
		if toks.Access != nil { // roles come from JWT access tokens only
			cur.Roles, cur.Branches = u.Roles, u.Branches
		}
		if u.TenantID != "" {
			cur.TenantID = u.TenantID
		}
	}
	s.observeLifetime(ctx, toks.Lifetime)
	cur.AccessToken, cur.AccessExpiry = toks.AccessToken, toks.Expiry
	if toks.RefreshToken != "" {
		cur.RefreshToken = toks.RefreshToken // rotated (or the same)
	}
	if toks.IDToken != "" {
		cur.IDToken = toks.IDToken
	}
	if err := s.store.Save(ctx, cookie, cur); err != nil {
		s.storeErr("save", err)
		s.metrics.refreshes.WithLabelValues("error").Inc()
		return nil, err
	}
	s.metrics.refreshes.WithLabelValues("refreshed").Inc()
	return cur, nil
}
