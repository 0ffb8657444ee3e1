package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/audit"
	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
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
	origIAT                       int64  // bearer: the access token's iat (unix s), the gateway token's orig_iat
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
		r, span := s.startDecisionSpan(r)
		res := s.decide(r, dialect)
		s.endDecisionSpan(span, res)
		if res.err != nil {
			writeError(w, res.err, dialect)
		} else {
			// The answer's header values share one array (one allocation, not
			// one per header); the keys are already canonical.
			h, vals, n := w.Header(), [4]string{"no-store"}, 1
			h["Cache-Control"] = vals[0:1:1]
			if res.token != "" {
				vals[n] = "Bearer " + res.token
				h["Authorization"] = vals[n : n+1 : n+1]
				n++
			}
			if s.cfg.PassUserHeaders {
				// Always present on an allow, empty for anonymous requests: proxies
				// that copy these answer headers (Envoy headersToBackend, Caddy
				// copy_headers, nginx auth_request_set) then overwrite any copy the
				// client sent instead of letting it through.
				if res.p != nil {
					vals[n], vals[n+1] = res.p.userID, res.p.email
				}
				h[HeaderUser] = vals[n : n+1 : n+1]
				h[HeaderEmail] = vals[n+1 : n+2 : n+2]
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
	if outcome == outcomeUntrusted {
		audit.UntrustedPeer(r, s.log, dialect)
	}
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
	var suppressed int64
	if outcome == outcomeAllow && s.allowLines != nil {
		var ok bool
		if ok, suppressed = s.allowLines.take(s.now()); !ok {
			return // over --decision-log-rate: counted, said on the next allow line
		}
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
	if suppressed > 0 {
		attrs = append(attrs, slog.Int64(keySuppressed, suppressed))
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
	rule, ok := s.rules.current().Match(req.Host, req.Method, req.Path)
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
	res.token, res.err = s.forwardToken(ctx, rule, p)
	return res
}

// forwardToken is the credential handed to the upstream.
func (s *Server) forwardToken(ctx context.Context, rule *policy.Rule, p *principal) (string, error) {
	if rule.Forward == policy.ForwardAccessToken {
		if p == nil {
			return "", nil // public rule, nobody logged in: nothing to forward
		}
		return p.accessToken, nil
	}
	return s.tokens.get(ctx, s.tracer, p, rule.Upstream, s.metrics)
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
	var h string
	if vs := r.Header["Authorization"]; len(vs) > 0 { // canonical key: no Get
		h = vs[0]
	}
	if h != "" && hasScheme(h, "bearer") {
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
		if err := s.checkRevoked(ctx, claims); err != nil {
			return nil, err
		}
		return &principal{
			userID: u.ID, email: u.Email, name: u.Name, tenantID: u.TenantID, roles: u.Roles, branches: u.Branches,
			accessToken: raw, sid: claims.SessionID, origIAT: origIssuedAt(claims),
		}, nil
	}
	cookie, ok := cookieValue(r, s.cookie.name)
	if !ok || cookie == "" {
		return nil, nil
	}
	sess, err := s.store.Load(ctx, cookie)
	if err != nil {
		s.metrics.storeErr("load", err)
		return nil, err
	}
	sid := session.SID(cookie)
	if err := s.checkSessionRevoked(ctx, cookie, sid, sess); err != nil {
		return nil, err
	}
	sess, err = s.refresher.maybeRefresh(ctx, cookie, sess)
	if err != nil {
		return nil, err
	}
	return &principal{
		userID: sess.UserID, email: sess.Email, name: sess.Name, tenantID: sess.TenantID,
		roles: sess.Roles, branches: sess.Branches, accessToken: sess.AccessToken, sid: sid,
	}, nil
}

// origIssuedAt is the orig_iat of a gateway token minted from the access
// token c: its iat, so that a user-wide revocation or the application-wide
// cutoff applies to the gateway token too, even one minted after the
// revocation but before authproxy's copy of the revocations caught up. An
// access token without iat counts as issued before every revocation (as
// jwtauth reads it): orig_iat 1, the earliest non-zero second.
func origIssuedAt(c *jwtauth.Claims) int64 {
	if c.IssuedAt == nil || c.IssuedAt.Unix() < 1 {
		return 1
	}
	return c.IssuedAt.Unix()
}

func hasScheme(h, scheme string) bool {
	return len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) && h[len(scheme)] == ' '
}
