// Package devlogin signs in at the dev IdP (hack/devidp) through its login form, as a browser
// does: it reads the form's action and hidden fields from the login page, fills in a default
// user's email and password and posts it. Every test and harness that logs in through the form
// uses it; the users and their passwords come from devidp.DefaultUser alone.
package devlogin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatewarden/gatewarden/hack/devidp"
)

// AcceptHTML is a browser's Accept header; the dev IdP and the gateway answer it with pages
// and redirects.
const AcceptHTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// maxBody bounds how much of a response is read.
const maxBody = 1 << 20

// Login opens startURL with c and submits the login page it answers as Submit does. startURL
// is the dev IdP's /oauth2/authorize with a client's parameters, or a URL that leads there when
// c follows redirects (a gateway's /oauth2/start). It fails when the answer is anything but
// the login page (an SSO redirect, an error page).
func Login(ctx context.Context, c *http.Client, startURL, email string) (*http.Response, []byte, error) {
	resp, page, err := do(ctx, c, http.MethodGet, startURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("devlogin: %s: login page: %w", email, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("devlogin: %s: login page: status %d, want 200: %s", email, resp.StatusCode, snippet(page))
	}
	return Submit(ctx, c, page, resp.Request.URL, email)
}

// Submit posts the dev IdP's login form found in page, the body c was given for pageURL,
// filled in with the credentials of the default user email. c's cookie jar and redirect
// policy apply: the response is the last one c returns, with its body read and closed.
func Submit(ctx context.Context, c *http.Client, page []byte, pageURL *url.URL, email string) (*http.Response, []byte, error) {
	u, err := devidp.DefaultUser(email)
	if err != nil {
		return nil, nil, fmt.Errorf("devlogin: %w", err)
	}
	action, fields, err := devidp.LoginForm(page)
	if err != nil {
		return nil, nil, fmt.Errorf("devlogin: %s: %w: %s", email, err, snippet(page))
	}
	target, err := pageURL.Parse(action)
	if err != nil {
		return nil, nil, fmt.Errorf("devlogin: %s: form action: %w", email, err)
	}
	fields.Set("loginId", u.Email)
	fields.Set("password", u.Password)
	resp, body, err := do(ctx, c, http.MethodPost, target.String(), fields)
	if err != nil {
		return nil, nil, fmt.Errorf("devlogin: %s: post the form: %w", email, err)
	}
	return resp, body, nil
}

// do sends a browser's request (a form when form is not nil) and reads the answer.
func do(ctx context.Context, c *http.Client, method, rawURL string, form url.Values) (*http.Response, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", AcceptHTML)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, err
	}
	return resp, b, nil
}

// snippet is the start of a page, for error messages.
func snippet(b []byte) string {
	const n = 512
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
