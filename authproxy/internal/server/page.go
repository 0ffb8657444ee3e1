package server

import (
	"bytes"
	_ "embed"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
)

//go:embed web/index.html
var pageHTML string

// pageTemplate is parsed once; html/template escapes every value, so a name
// like "<script>" prints as text.
var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

type pageData struct {
	User      *userInfo
	LoginURL  string
	LogoutURL string
	// LogoutEverywhereURL ends every session of the user (POST).
	LogoutEverywhereURL string
	Nonce               string
}

// page is the gateway's storefront: the product list with search and
// paging, a product page, and for a logged-in user the branch stock they
// may see, editable where they may edit it. A small script (nonce CSP, no
// build step) calls the services through the gateway with the session
// cookie and shows every answer in words; the gateway and the services
// decide what is allowed, not the page.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	data := pageData{
		LoginURL:            s.public.Path + startPath + "?rd=" + "%2F",
		LogoutURL:           s.public.Path + "/oauth2/logout",
		LogoutEverywhereURL: s.public.Path + logoutEverywherePath,
		Nonce:               randomString(),
	}
	sess, err := s.currentSession(r)
	if err != nil {
		s.log.WarnContext(r.Context(), "page: session unavailable", slog.String(keyError, err.Error()))
	}
	if sess != nil {
		data.User = &userInfo{Sub: sess.UserID, Email: sess.Email, Name: sess.Name, Roles: sess.Roles}
	}
	writePage(w, http.StatusOK, pageTemplate, data,
		"default-src 'none'; script-src 'nonce-"+data.Nonce+"'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")
}

// loginFailedTemplate is the page a failed callback shows.
var loginFailedTemplate = template.Must(template.New("login-failed").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Login failed</title></head>
<body><h1>Login failed</h1>
<p>{{.Message}}</p>
<p><a href="{{.Start}}">Log in again</a> or go back to the <a href="{{.Home}}">start page</a>.</p>
</body></html>
`))

// loginFailedPage answers a failed callback with a's status and a page that
// says the login failed; the reason is in the log, not on the page.
func (s *Server) loginFailedPage(w http.ResponseWriter, a answer) {
	data := struct{ Message, Start, Home string }{
		Message: strings.ToUpper(a.message[:1]) + a.message[1:] + ".",
		Start:   s.public.Path + startPath + "?rd=%2F",
		Home:    s.public.Path + "/",
	}
	writePage(w, a.status, loginFailedTemplate, data, "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
}

// writePage renders t with data and answers it with status and the headers
// every authproxy page carries (no caching, no sniffing, no framing, csp).
func writePage(w http.ResponseWriter, status int, t *template.Template, data any, csp string) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		writeError(w, err, "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
