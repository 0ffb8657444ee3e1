package devidp

import (
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// ssoCookie is the name of FusionAuth's SSO session cookie.
const ssoCookie = "fusionauth.sso"

// authzRequest is a validated /oauth2/authorize request.
type authzRequest struct {
	ClientID, RedirectURI, ResponseType, ResponseMode, Scope, State, Nonce string
	CodeChallenge, CodeChallengeMethod, Prompt                             string
}

func readAuthzRequest(form url.Values) authzRequest {
	return authzRequest{
		ClientID:            form.Get("client_id"),
		RedirectURI:         form.Get("redirect_uri"),
		ResponseType:        form.Get("response_type"),
		ResponseMode:        form.Get("response_mode"),
		Scope:               normalizeScope(form.Get("scope")),
		State:               form.Get("state"),
		Nonce:               form.Get("nonce"),
		CodeChallenge:       form.Get("code_challenge"),
		CodeChallengeMethod: form.Get("code_challenge_method"),
		Prompt:              form.Get("prompt"),
	}
}

// checkClient validates what must hold before anything may be redirected: an unknown client or
// redirect URI gets an error page, never a redirect (no open redirect).
func (s *Server) checkClient(a authzRequest) *oauthError {
	switch {
	case a.ClientID == "":
		return newError(http.StatusBadRequest, "invalid_request", "missing_client_id", "The request is missing a required parameter: client_id")
	case a.ClientID != s.cfg.ClientID:
		return newError(http.StatusBadRequest, "invalid_client", "invalid_client_id", "The client_id is invalid.")
	case a.RedirectURI == "":
		return newError(http.StatusBadRequest, "invalid_request", "missing_redirect_uri", "The request is missing a required parameter: redirect_uri")
	case !slices.Contains(s.cfg.RedirectURIs, a.RedirectURI):
		return newError(http.StatusBadRequest, "invalid_request", "invalid_redirect_uri", "The redirect_uri is not an authorized redirect URL of the application.")
	}
	return nil
}

// checkParams validates the rest; these errors go back to the client's redirect URI.
func (s *Server) checkParams(a authzRequest) *oauthError {
	switch {
	case a.ResponseType == "":
		return newError(http.StatusBadRequest, "invalid_request", "missing_response_type", "The request is missing a required parameter: response_type")
	case a.ResponseType != "code":
		return newError(http.StatusBadRequest, "unsupported_response_type", "invalid_response_type", "Only response_type=code is supported.")
	case a.ResponseMode != "" && a.ResponseMode != "query":
		return newError(http.StatusBadRequest, "invalid_request", "invalid_response_mode", "Only response_mode=query is supported.")
	case a.CodeChallenge == "" && a.CodeChallengeMethod != "":
		return newError(http.StatusBadRequest, "invalid_request", "invalid_pkce_code_challenge", "code_challenge_method was sent without code_challenge.")
	case a.CodeChallenge == "" && !s.cfg.PKCEOptional:
		return newError(http.StatusBadRequest, "invalid_request", "invalid_pkce_code_challenge", "PKCE is required: send code_challenge and code_challenge_method=S256.")
	case a.CodeChallenge != "" && a.CodeChallengeMethod != "S256":
		return newError(http.StatusBadRequest, "invalid_request", "invalid_pkce_code_challenge_method", "code_challenge_method must be S256.")
	case a.CodeChallenge != "" && (len(a.CodeChallenge) != 43 || !validVerifier(a.CodeChallenge)):
		return newError(http.StatusBadRequest, "invalid_request", "invalid_pkce_code_challenge", "The code_challenge is not a base64url SHA-256 hash.")
	}
	return nil
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w)
	if e := parseForm(w, r); e != nil {
		s.errorPage(w, e)
		return
	}
	// GET reads the query; POST (the login form) reads the body only, so hidden fields cannot be
	// overridden from the query string.
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	a := readAuthzRequest(form)
	if e := s.checkClient(a); e != nil {
		s.log.Info("authorize: refused", slog.String("error_reason", e.Reason))
		s.errorPage(w, e)
		return
	}
	if e := s.checkParams(a); e != nil {
		s.log.Info("authorize: refused", slog.String("error_reason", e.Reason))
		s.redirectError(w, r, a, e)
		return
	}

	if r.Method == http.MethodPost {
		u, ok := s.users.authenticate(form.Get("loginId"), form.Get("password"))
		if ok && !s.active(u.ID) {
			ok = false // FusionAuth refuses a deactivated user's login
		}
		if !ok {
			s.log.Info("authorize: login failed")
			s.loginPage(w, a, form.Get("loginId"), "Invalid login credentials.")
			return
		}
		now := s.now()
		s.startSSO(w, u, now)
		s.log.Info("authorize: login", slog.String("user_id", u.ID))
		s.redirectCode(w, r, a, u, now)
		return
	}

	if a.Prompt != "login" {
		if u, authTime, ok := s.ssoUser(r); ok {
			s.log.Info("authorize: sso", slog.String("user_id", u.ID))
			s.redirectCode(w, r, a, u, authTime)
			return
		}
	}
	if a.Prompt == "none" {
		s.redirectError(w, r, a, newError(http.StatusBadRequest, "login_required", "login_required", "The user is not logged in."))
		return
	}
	s.loginPage(w, a, "", "")
}

// redirectCode issues a code and sends the browser back to the client, with FusionAuth's userState.
func (s *Server) redirectCode(w http.ResponseWriter, r *http.Request, a authzRequest, u *user, authTime time.Time) {
	code := randomToken(32)
	now := s.now()
	s.mu.Lock()
	for k, c := range s.codes {
		if !now.Before(c.expires) {
			delete(s.codes, k)
		}
	}
	s.codes[code] = &authCode{
		clientID: a.ClientID, redirectURI: a.RedirectURI, userID: u.ID, scope: a.Scope, nonce: a.Nonce,
		challenge: a.CodeChallenge, challengeMethod: a.CodeChallengeMethod,
		authTime: authTime, expires: now.Add(s.cfg.CodeTTL),
	}
	s.mu.Unlock()
	userState := "Authenticated"
	if u.Registration == nil {
		userState = "AuthenticatedNotRegistered"
	}
	params := url.Values{"code": {code}, "userState": {userState}}
	if a.State != "" {
		params.Set("state", a.State)
	}
	http.Redirect(w, r, withParams(a.RedirectURI, params), http.StatusFound)
}

func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, a authzRequest, e *oauthError) {
	params := url.Values{"error": {e.Error}, "error_description": {e.Description}, "error_reason": {e.Reason}}
	if a.State != "" {
		params.Set("state", a.State)
	}
	http.Redirect(w, r, withParams(a.RedirectURI, params), http.StatusFound)
}

// withParams adds query parameters to an (already validated) URL, keeping its own query.
func withParams(raw string, params url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *Server) startSSO(w http.ResponseWriter, u *user, now time.Time) {
	id := randomToken(32)
	s.mu.Lock()
	for k, ss := range s.sso {
		if !now.Before(ss.expires) {
			delete(s.sso, k)
		}
	}
	s.sso[id] = &ssoSession{userID: u.ID, authTime: now, expires: now.Add(s.cfg.SSOTTL)}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: ssoCookie, Value: id, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.cfg.SSOTTL / time.Second),
	})
}

func (s *Server) ssoUser(r *http.Request) (*user, time.Time, bool) {
	c, err := r.Cookie(ssoCookie)
	if err != nil {
		return nil, time.Time{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sso[c.Value]
	if !ok || !s.now().Before(ss.expires) {
		return nil, time.Time{}, false
	}
	u, ok := s.users.byID[ss.userID]
	return u, ss.authTime, ok
}

func (s *Server) endSSO(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(ssoCookie); err == nil {
		s.mu.Lock()
		delete(s.sso, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w)
	q := r.URL.Query()
	if id := q.Get("client_id"); id != "" && id != s.cfg.ClientID {
		s.errorPage(w, newError(http.StatusBadRequest, "invalid_request", "invalid_client_id", "The client_id is invalid."))
		return
	}
	target := q.Get("post_logout_redirect_uri")
	switch {
	case target == "" && len(s.cfg.LogoutURIs) > 0:
		target = s.cfg.LogoutURIs[0]
	case target == "":
		target = s.cfg.Issuer + "/"
	case !slices.Contains(s.cfg.LogoutURIs, target) && !slices.Contains(s.cfg.RedirectURIs, target):
		s.log.Info("logout: refused", slog.String("error_reason", "invalid_post_logout_redirect_uri"))
		s.errorPage(w, newError(http.StatusBadRequest, "invalid_request", "invalid_post_logout_redirect_uri", "The post_logout_redirect_uri is invalid."))
		return
	}
	// Ends the IdP SSO session only: refresh tokens stay valid, as in FusionAuth.
	s.endSSO(w, r)
	if st := q.Get("state"); st != "" {
		target = withParams(target, url.Values{"state": {st}})
	}
	http.Redirect(w, r, target, http.StatusFound)
}

func (s *Server) deviceAuthorize(w http.ResponseWriter, _ *http.Request) {
	s.writeError(w, newError(http.StatusBadRequest, "unauthorized_client", "grant_type_disabled", "The device grant is not enabled for this application."))
}

func (s *Server) discovery(w http.ResponseWriter, _ *http.Request) {
	iss := s.cfg.Issuer
	s.writeJSON(w, http.StatusOK, map[string]any{
		"authorization_endpoint":                iss + "/oauth2/authorize",
		"backchannel_logout_supported":          false,
		"claims_supported":                      []string{"applicationId", "at_hash", "aud", "auth_time", "authenticationType", "branches", "email", "email_verified", "exp", "iat", "iss", "jti", "name", "nonce", "roles", "scope", "sid", "sub", "tid"},
		"device_authorization_endpoint":         iss + "/oauth2/device_authorize",
		"end_session_endpoint":                  iss + "/oauth2/logout",
		"frontchannel_logout_supported":         false,
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"issuer":                                iss,
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"response_modes_supported":              []string{"query"},
		"response_types_supported":              []string{"code"},
		"scopes_supported":                      []string{"openid", "offline_access"},
		"subject_types_supported":               []string{"public"},
		"token_endpoint":                        iss + "/oauth2/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"userinfo_endpoint":                     iss + "/oauth2/userinfo",
		"userinfo_signing_alg_values_supported": []string{"RS256"},
	})
}

func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
}

var pages = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Login | devidp (FusionAuth stand-in)</title>
<style>body{font-family:sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}.error{color:#b00}</style>
</head><body>
<h1>Login</h1>
{{if .Error}}<p class="error" id="login-error">{{.Error}}</p>{{end}}
<form id="login-form" action="/oauth2/authorize" method="post">
<input type="hidden" name="client_id" value="{{.A.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.A.RedirectURI}}">
<input type="hidden" name="response_type" value="{{.A.ResponseType}}">
<input type="hidden" name="response_mode" value="{{.A.ResponseMode}}">
<input type="hidden" name="scope" value="{{.A.Scope}}">
<input type="hidden" name="state" value="{{.A.State}}">
<input type="hidden" name="nonce" value="{{.A.Nonce}}">
<input type="hidden" name="code_challenge" value="{{.A.CodeChallenge}}">
<input type="hidden" name="code_challenge_method" value="{{.A.CodeChallengeMethod}}">
<label for="loginId">Email</label>
<input id="loginId" name="loginId" type="email" autocomplete="username" autofocus required value="{{.LoginID}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="login-button" type="submit">Submit</button>
</form>
</body></html>
{{define "error"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Error | devidp (FusionAuth stand-in)</title></head><body>
<h1>Error</h1>
<p>We're sorry, your request was malformed or was unable to be completed for some reason.</p>
<pre id="error-body">{{.}}</pre>
</body></html>
{{end}}`))

func (s *Server) loginPage(w http.ResponseWriter, a authzRequest, loginID, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if err := pages.Execute(w, map[string]any{"A": a, "LoginID": loginID, "Error": msg}); err != nil {
		s.log.Error("render login page", slog.String("error", err.Error()))
	}
}

// errorPage shows FusionAuth's OAuth error as an HTML page with the JSON error in it.
func (s *Server) errorPage(w http.ResponseWriter, e *oauthError) {
	body, _ := jsonIndent(e)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(e.status)
	if err := pages.ExecuteTemplate(w, "error", body); err != nil {
		s.log.Error("render error page", slog.String("error", err.Error()))
	}
}
