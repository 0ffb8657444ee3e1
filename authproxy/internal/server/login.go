package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/audit"
	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// cookieSpec names and shapes authproxy's cookies.
type cookieSpec struct {
	name   string // session cookie; __Host- prefixed on https
	login  string // prefix of the per-login state cookies: <name>_login_
	secure bool
	seal   *session.Sealer // login-state cookies, sealed for session.PurposeLoginState under the cookie-secret
}

// Login-state cookies: one per login in flight, named for its state, so
// logins started in several tabs each complete. At most maxLogins live at
// once; a start beyond that clears the others (those logins then fail and
// are simply started again).
const (
	loginHashLen = 8 // characters of base64url(SHA-256(state)) in the cookie name
	maxLogins    = 4
)

func newCookieSpec(cfg *config.Config) (cookieSpec, error) {
	name := cfg.SessionCookieName()
	seal, err := session.NewSealer([]byte(cfg.CookieSecret.Reveal()), nil, session.PurposeLoginState)
	if err != nil {
		return cookieSpec{}, fmt.Errorf("login cookie key: %w", err)
	}
	return cookieSpec{name: name, login: name + "_login_", secure: cfg.PublicHTTPS(), seal: seal}, nil
}

// set writes a cookie with the attributes every authproxy cookie has:
// HttpOnly, SameSite=Lax, Path=/, no Domain (host-only), Secure on https.
func (c cookieSpec) set(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // G124: HttpOnly and SameSite=Lax always; Secure whenever the public URL is https
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// loginCookie is the name of the login-state cookie for state.
func (c cookieSpec) loginCookie(state string) string {
	h := sha256.Sum256([]byte(state))
	return c.login + base64.RawURLEncoding.EncodeToString(h[:])[:loginHashLen]
}

// loginState travels from /oauth2/start to /oauth2/callback sealed in the
// login-state cookie: nothing is stored server-side until the callback.
type loginState struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Nonce    string `json:"n"`
	Return   string `json:"rd"`
	Expiry   int64  `json:"exp"` // unix milliseconds
}

// sealLogin seals st for its cookie, with the state as additional data,
// so the cookie opens only for the callback of its own state. Layout:
// base64url(sealed value, see session.Sealer).
func (c cookieSpec) sealLogin(st *loginState) (string, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(c.seal.Seal([]byte(st.State), plain)), nil
}

// openLogin returns the login state sealed in value for state; false when
// the value is malformed, tampered, sealed under another secret or for
// another state.
func (c cookieSpec) openLogin(value, state string) (*loginState, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return nil, false
	}
	plain, err := c.seal.Open([]byte(state), raw)
	if err != nil {
		return nil, false
	}
	var st loginState
	if err := json.Unmarshal(plain, &st); err != nil || st.State != state {
		return nil, false
	}
	return &st, true
}

func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// start begins a login: state, nonce and PKCE verifier sealed into a
// cookie of this browser (nothing stored server-side), then off to
// FusionAuth.
func (s *Server) start(w http.ResponseWriter, r *http.Request) error {
	rd := r.URL.Query().Get("rd")
	if rd == "" {
		rd = "/"
	}
	target, ok := s.checkRedirect(rd)
	if !ok {
		return fmt.Errorf("%w: return URL refused", ErrBadRequest)
	}
	if err := s.provider.Ready(); err != nil {
		return err
	}
	st := &loginState{
		State: randomString(), Verifier: oidc.NewVerifier(), Nonce: randomString(), Return: target,
		Expiry: s.now().Add(stateTTL).UnixMilli(),
	}
	authURL, err := s.provider.AuthCodeURL(st.State, st.Nonce, st.Verifier)
	if err != nil {
		return err
	}
	value, err := s.cookie.sealLogin(st)
	if err != nil {
		return err
	}
	// Bound the logins in flight: past the cap, clear the others.
	var pending []string
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, s.cookie.login) {
			pending = append(pending, c.Name)
		}
	}
	if len(pending) >= maxLogins {
		for _, name := range pending {
			s.cookie.set(w, name, "", -1)
		}
	}
	s.cookie.set(w, s.cookie.loginCookie(st.State), value, int(stateTTL.Seconds()))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusFound)
	return nil
}

// callback completes a login: the state must be bound to this browser and
// unused; the code is redeemed with the PKCE verifier; the id_token's nonce
// must match. A new session (new random id) is created every time.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		s.metrics.logins.WithLabelValues("idp_error").Inc()
		// The provider's error code is a short ASCII token (RFC 6749
		// 4.1.2.1); its description is left out of logs (free text).
		return fmt.Errorf("%w: the identity provider answered error %q", ErrLoginFailed, logSafe(e))
	}
	state, code := q.Get("state"), q.Get("code")
	if state == "" || code == "" {
		s.metrics.logins.WithLabelValues("bad_request").Inc()
		return fmt.Errorf("%w: state and code required", ErrLoginFailed)
	}
	loginCookie := s.cookie.loginCookie(state)
	bound, err := r.Cookie(loginCookie)
	if err != nil {
		s.metrics.logins.WithLabelValues("state_not_bound").Inc()
		return fmt.Errorf("%w: state not bound to this browser", ErrLoginFailed)
	}
	st, ok := s.cookie.openLogin(bound.Value, state)
	if !ok {
		s.metrics.logins.WithLabelValues("state_not_bound").Inc()
		return fmt.Errorf("%w: state not bound to this browser", ErrLoginFailed)
	}
	left := time.UnixMilli(st.Expiry).Sub(s.now())
	if left <= 0 {
		s.metrics.logins.WithLabelValues("state_unknown").Inc()
		return fmt.Errorf("%w: state unknown, expired or already used", ErrLoginFailed)
	}
	if err := s.states.Spend(ctx, state, left); err != nil {
		if errors.Is(err, session.ErrStateUsed) {
			s.metrics.logins.WithLabelValues("state_unknown").Inc()
			return fmt.Errorf("%w: state unknown, expired or already used", ErrLoginFailed)
		}
		s.metrics.storeErr("spend_state", err)
		return err
	}
	toks, user, err := s.provider.Exchange(ctx, code, st.Verifier, st.Nonce)
	if err != nil {
		s.metrics.logins.WithLabelValues("exchange_failed").Inc()
		if errors.Is(err, oidc.ErrInvalidGrant) || errors.Is(err, oidc.ErrAccessToken) {
			return fmt.Errorf("%w: %w", ErrLoginFailed, err)
		}
		return err
	}
	// Drop any session this browser had: a login always starts a new one,
	// and a pre-set cookie is never adopted.
	if old, err := r.Cookie(s.cookie.name); err == nil && old.Value != "" {
		if err := s.store.Delete(ctx, old.Value); err != nil && !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrMalformedCookie) {
			s.metrics.storeErr("delete", err)
		}
	}
	cookie, err := s.store.Create(ctx, &session.Session{
		UserID: user.ID, Email: user.Email, Name: user.Name, Roles: user.Roles,
		TenantID: user.TenantID, Branches: user.Branches,
		AccessToken: toks.AccessToken, RefreshToken: toks.RefreshToken, IDToken: toks.IDToken,
		AccessExpiry: toks.Expiry,
	})
	if err != nil {
		s.metrics.storeErr("create", err)
		return err
	}
	s.linker.link(ctx, cookie, user.ID, toks)
	s.metrics.logins.WithLabelValues("ok").Inc()
	audit.Login(ctx, s.log, user.ID, session.SID(cookie))
	s.refresher.observeLifetime(ctx, toks.Lifetime)
	s.log.InfoContext(ctx, "login", slog.String(keySubject, user.ID))
	s.cookie.set(w, s.cookie.name, cookie, int(s.cfg.SessionLifetime.Seconds()))
	s.cookie.set(w, loginCookie, "", -1)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, st.Return, http.StatusFound)
	return nil
}

// callbackPage runs the callback and, when the login fails, logs why and
// shows the browser a page that says so, with a link to try again, rather
// than a bare error a login loop would hide.
func (s *Server) callbackPage(w http.ResponseWriter, r *http.Request) error {
	err := s.callback(w, r)
	if err == nil {
		return nil
	}
	level := slog.LevelWarn
	if kind := classify(err); kind == kindInternal || kind == kindUnavailable {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "login failed", slog.String(keyPath, r.URL.Path), slog.String(keyError, err.Error()))
	audit.LoginFailed(r.Context(), s.log, classify(err).answer().code)
	if !strings.Contains(strings.ToLower(strings.Join(r.Header.Values("Accept"), ",")), "text/html") {
		writeError(w, err, "") // not a browser: the JSON error every endpoint answers
		return nil
	}
	s.loginFailedPage(w, classify(err).answer())
	return nil
}

// logSafe keeps printable ASCII of s, at most 64 bytes.
func logSafe(v string) string {
	b := make([]byte, 0, min(len(v), 64))
	for i := 0; i < len(v) && len(b) < 64; i++ {
		if c := v[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

// logout ends the session (POST with a same-origin Origin only), clears the
// cookie, revokes its refresh token at the provider when the provider
// offers a way (revoke.go) and sends the browser to the provider's end_session_endpoint with
// id_token_hint and post_logout_redirect_uri, or, for a provider without
// one, back to the gateway.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if !s.sameOriginRequest(r) {
		return fmt.Errorf("%w: logout from a foreign origin", ErrCSRF)
	}
	var storeErr error
	var idToken, refreshToken, subject string
	if c, err := r.Cookie(s.cookie.name); err == nil && c.Value != "" {
		if sess, err := s.fresh.Load(r.Context(), c.Value); err == nil {
			idToken, refreshToken, subject = sess.IDToken, sess.RefreshToken, sess.UserID
		}
		if err := s.store.Delete(r.Context(), c.Value); err != nil && !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrMalformedCookie) {
			s.metrics.storeErr("delete", err)
			storeErr = err
		}
		audit.Logout(r.Context(), s.log, subject, session.SID(c.Value), storeErr)
	}
	s.cookie.set(w, s.cookie.name, "", -1)
	if storeErr != nil {
		// The cookie is gone from this browser, but the session could not
		// be deleted: say so rather than pretend.
		return storeErr
	}
	s.revokeAtIdP(r.Context(), refreshToken)
	s.leave(w, r, idToken)
	return nil
}

// leave sends the logged-out browser to the provider's end_session_endpoint
// with idToken as the hint, or back to the gateway.
func (s *Server) leave(w http.ResponseWriter, r *http.Request, idToken string) {
	w.Header().Set("Cache-Control", "no-store")
	home := s.origin + s.public.Path + "/"
	target, ok := s.provider.LogoutURL(idToken, home)
	if !ok {
		// No end_session_endpoint: the session is gone here; the provider's
		// own login session stays, as the provider offers no way to end it.
		target = home
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// sameOriginRequest: the Origin header (or, lacking it, the Referer's
// origin) must be the public URL's origin.
func (s *Server) sameOriginRequest(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		ref, err := url.Parse(r.Header.Get("Referer"))
		if err != nil || ref.Host == "" {
			return false
		}
		origin = ref.Scheme + "://" + ref.Host
	}
	return strings.EqualFold(origin, s.origin)
}

// userinfo answers the logged-in user as JSON (no tokens).
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.currentSession(r)
	if err != nil {
		return err
	}
	if sess == nil {
		return &decisionError{err: ErrUnauthenticated, loginURL: s.origin + s.public.Path + startPath}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, userInfo{Sub: sess.UserID, Email: sess.Email, Name: sess.Name, Roles: nonNil(sess.Roles)})
	return nil
}

type userInfo struct {
	Sub   string   `json:"sub"`
	Email string   `json:"email,omitempty"`
	Name  string   `json:"name,omitempty"`
	Roles []string `json:"roles"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// currentSession loads the session of the request's cookie; nil, nil when
// there is none (or it is gone or spent). It does not refresh.
func (s *Server) currentSession(r *http.Request) (*session.Session, error) {
	c, err := r.Cookie(s.cookie.name)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	sess, err := s.store.Load(r.Context(), c.Value)
	if err != nil {
		s.metrics.storeErr("load", err)
		if classify(err) == kindUnauthenticated {
			return nil, nil
		}
		return nil, err
	}
	if err := s.checkSessionRevoked(r.Context(), c.Value, session.SID(c.Value), sess); err != nil {
		if classify(err) == kindUnauthenticated {
			return nil, nil
		}
		return nil, err
	}
	if s.refresher.spent(sess) {
		return nil, nil
	}
	return sess, nil
}

// checkRedirect accepts a return URL when it is a relative path ("/x", not
// "//x" or "/\x") or an absolute http(s) URL on the public host or an
// allow-listed host. It returns the URL to redirect to.
func (s *Server) checkRedirect(rd string) (string, bool) {
	if rd == "" || len(rd) > maxRedirectSize {
		return "", false
	}
	for i := 0; i < len(rd); i++ {
		// Browsers drop tabs and newlines inside URLs ("/\t/evil" becomes
		// "//evil") and treat "\" like "/": refuse them all.
		if c := rd[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.User != nil || u.Opaque != "" {
		return "", false
	}
	if u.Scheme == "" && u.Host == "" {
		if !strings.HasPrefix(rd, "/") || strings.HasPrefix(rd, "//") || strings.HasPrefix(u.Path, "//") {
			return "", false
		}
		return rd, true
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	if s.public.Scheme == "https" && u.Scheme == "http" {
		return "", false // no downgrade from an https gateway
	}
	if !s.sameOrigin(u.Scheme, u.Host) && !s.allowedHost(u.Host) {
		return "", false
	}
	return u.String(), true
}

func (s *Server) sameOrigin(scheme, host string) bool {
	return strings.EqualFold(scheme, s.public.Scheme) && strings.EqualFold(host, s.public.Host)
}

// allowedHost: host is the public URL's host (port included) or on
// allowed-redirect-hosts (an entry without a port allows any port).
func (s *Server) allowedHost(host string) bool {
	host = strings.ToLower(host)
	if host == strings.ToLower(s.public.Host) {
		return true
	}
	name := host
	if u, err := url.Parse("//" + host); err == nil {
		name = u.Hostname()
	}
	return slices.ContainsFunc(s.cfg.AllowedRedirectHosts, func(a string) bool {
		a = strings.ToLower(a)
		return a == host || a == name
	})
}
