package server

import (
	"bytes"
	_ "embed"
	"html/template"
	"log/slog"
	"net/http"
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
	Nonce     string
}

// page is the gateway's storefront: the product list with search and
// paging, a product page, and for a logged-in user the branch stock they
// may see, editable where they may edit it. A small script (nonce CSP, no
// build step) calls the services through the gateway with the session
// cookie and shows every answer in words; the gateway and the services
// decide what is allowed, not the page.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	data := pageData{
		LoginURL:  s.public.Path + startPath + "?rd=" + "%2F",
		LogoutURL: s.public.Path + "/oauth2/logout",
		Nonce:     randomString(),
	}
	sess, err := s.currentSession(r)
	if err != nil {
		s.log.WarnContext(r.Context(), "page: session unavailable", slog.String(keyError, err.Error()))
	}
	if sess != nil {
		data.User = &userInfo{Sub: sess.UserID, Email: sess.Email, Name: sess.Name, Roles: sess.Roles}
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		writeError(w, err, "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+data.Nonce+"'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	_, _ = w.Write(buf.Bytes())
}
