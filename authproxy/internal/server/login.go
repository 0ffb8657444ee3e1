package server

import (
	"crypto/hmac"
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

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// cookieSpec names and shapes authproxy's cookies.
type cookieSpec struct {
	name   string // session cookie; __Host- prefixed on https
	csrf   string // login-state binding cookie
	secure bool
	secret []byte // cookie-secret: MACs the login-state binding
}

func newCookieSpec(cfg *config.Config) cookieSpec {
	name := cfg.SessionCookieName()
	return cookieSpec{name: name, csrf: name + "_login", secure: cfg.PublicHTTPS(), secret: []byte(cfg.CookieSecret.Reveal())}
}

// set writes a cookie with the attributes every authproxy cookie has:
// HttpOnly, SameSite=Lax, Path=/, no Domain (host-only), Secure on https.
func (c cookieSpec) set(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// binding is the value of the login-state cookie for state: a MAC under the
// cookie secret, so the callback only completes in the browser that started
// the login (no login CSRF), and nothing is stored for it.
func (c cookieSpec) binding(state string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte("gatewarden login v1\x00" + state))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// loginState travels from /oauth2/start to /oauth2/callback in the state
// store, under the random state value.
type loginState struct {
	Verifier string `json:"v"`
	Nonce    string `json:"n"`
	Return   string `json:"rd"`
}

func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// start begins a login: state, nonce and PKCE verifier kept server-side,
// the state bound to this browser, then off to FusionAuth.
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
	st := loginState{Verifier: oidc.NewVerifier(), Nonce: randomString(), Return: target}
	state := randomString()
	authURL, err := s.provider.AuthCodeURL(state, st.Nonce, st.Verifier)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := s.states.Put(r.Context(), state, raw, stateTTL); err != nil {
		s.storeErr("put_state", err)
		return err
	}
	s.cookie.set(w, s.cookie.csrf, s.cookie.binding(state), int(stateTTL.Seconds()))
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
		return fmt.Errorf("%w: the identity provider answered an error", ErrLoginFailed)
	}
	state, code := q.Get("state"), q.Get("code")
	if state == "" || code == "" {
		s.metrics.logins.WithLabelValues("bad_request").Inc()
		return fmt.Errorf("%w: state and code required", ErrLoginFailed)
	}
	bound, err := r.Cookie(s.cookie.csrf)
	if err != nil || !hmac.Equal([]byte(bound.Value), []byte(s.cookie.binding(state))) {
		s.metrics.logins.WithLabelValues("state_not_bound").Inc()
		return fmt.Errorf("%w: state not bound to this browser", ErrLoginFailed)
	}
	raw, err := s.states.Take(ctx, state)
	if err != nil {
		if errors.Is(err, session.ErrNotFound) {
			s.metrics.logins.WithLabelValues("state_unknown").Inc()
			return fmt.Errorf("%w: state unknown, expired or already used", ErrLoginFailed)
		}
		s.storeErr("take_state", err)
		return err
	}
	var st loginState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("%w: state record: %w", ErrLoginFailed, err)
	}
	toks, user, err := s.provider.Exchange(ctx, code, st.Verifier, st.Nonce)
	if err != nil {
		s.metrics.logins.WithLabelValues("exchange_failed").Inc()
		if errors.Is(err, oidc.ErrInvalidGrant) {
			return fmt.Errorf("%w: %w", ErrLoginFailed, err)
		}
		return err
	}
	// Drop any session this browser had: a login always starts a new one,
	// and a pre-set cookie is never adopted.
	if old, err := r.Cookie(s.cookie.name); err == nil && old.Value != "" {
		if err := s.store.Delete(ctx, old.Value); err != nil && !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrMalformedCookie) {
			s.storeErr("delete", err)
		}
	}
	cookie, err := s.store.Create(ctx, &session.Session{
		UserID: user.ID, Email: user.Email, Name: user.Name, Roles: user.Roles,
		TenantID: user.TenantID, Branches: user.Branches,
		AccessToken: toks.AccessToken, RefreshToken: toks.RefreshToken, IDToken: toks.IDToken,
		AccessExpiry: toks.Expiry,
	})
	if err != nil {
		s.storeErr("create", err)
		return err
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	s.log.InfoContext(ctx, "login", slog.String(keySubject, user.ID))
	s.cookie.set(w, s.cookie.name, cookie, int(s.cfg.SessionLifetime.Seconds()))
	s.cookie.set(w, s.cookie.csrf, "", -1)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, st.Return, http.StatusFound)
	return nil
}

// logout ends the session (POST with a same-origin Origin only), clears the
// cookie and sends the browser to FusionAuth's logout.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if !s.sameOriginRequest(r) {
		return fmt.Errorf("%w: logout from a foreign origin", ErrCSRF)
	}
	var storeErr error
	if c, err := r.Cookie(s.cookie.name); err == nil && c.Value != "" {
		if err := s.store.Delete(r.Context(), c.Value); err != nil && !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrMalformedCookie) {
			s.storeErr("delete", err)
			storeErr = err
		}
	}
	s.cookie.set(w, s.cookie.name, "", -1)
	if storeErr != nil {
		// The cookie is gone from this browser, but the session could not
		// be deleted: say so rather than pretend.
		return storeErr
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.provider.LogoutURL(s.origin+s.public.Path+"/"), http.StatusSeeOther)
	return nil
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
		s.storeErr("load", err)
		if classify(err) == ErrUnauthenticated {
			return nil, nil
		}
		return nil, err
	}
	if s.spent(sess) {
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
