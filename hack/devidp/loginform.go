package devidp

import (
	"errors"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// LoginForm finds this IdP's login form (id "login-form") in a page: its action and its hidden
// fields. Tests and harnesses that sign in through the form as a browser would use it.
func LoginForm(page []byte) (string, url.Values, error) {
	z := html.NewTokenizer(strings.NewReader(string(page)))
	var action string
	inForm := false
	fields := url.Values{}
	for {
		switch z.Next() {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				if action == "" {
					return "", nil, errors.New("no login form")
				}
				return action, fields, nil
			}
			return "", nil, z.Err()
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Key] = a.Val
			}
			switch {
			case tok.Data == "form" && attrs["id"] == "login-form":
				inForm, action = true, attrs["action"]
			case tok.Data == "input" && inForm && attrs["type"] == "hidden":
				fields.Set(attrs["name"], attrs["value"])
			}
		case html.EndTagToken:
			if z.Token().Data == "form" {
				inForm = false
			}
		}
	}
}
