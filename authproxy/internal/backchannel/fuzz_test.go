package backchannel_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/authproxy/internal/backchannel"
)

// FuzzLogoutToken fuzzes the handler's own parse step, the claims it reads
// from a token the provider really signed (typ, iat, events, nonce, sid,
// sub, jti), and the form around it. Whatever the claims, the handler must
// not panic, must answer 200 or 400, and may end only what the claims name:
// an ended session needs sid "sid-a" (u1's), an ended user needs that sub,
// and any effect needs the back-channel logout event, a jti and no nonce.
// The raw form is fuzzed too: a logout_token that is not the signed one
// ends nothing.
func FuzzLogoutToken(f *testing.F) {
	seed, err := json.Marshal(claims(nil))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, "")
	f.Add([]byte(`{"iss":"https://idp.example","aud":"app-1","iat":1764500000,"jti":"j","sub":"u1","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`), "logout_token=x.y.z")
	f.Add([]byte(`{"iss":"https://idp.example","aud":["app-1"],"iat":1764500000.5,"jti":"","sid":"sid-a","events":{"http://schemas.openid.net/event/backchannel-logout":1},"nonce":null}`), "logout_token=")
	f.Add([]byte(`{"iss":"https://idp.example","aud":"app-1","iat":"1764500000","jti":7,"sub":["u1"],"sid":{"a":1},"events":[]}`), "%zz&logout_token=a")
	f.Fuzz(func(t *testing.T, claimsJSON []byte, rawForm string) {
		var c jwt.MapClaims
		if json.Unmarshal(claimsJSON, &c) != nil || c == nil {
			return
		}
		for _, form := range []string{"", rawForm} {
			body := form
			if form == "" {
				body = url.Values{"logout_token": {sign(t, c)}}.Encode()
			}
			fk := &fake{marks: map[string]bool{}}
			h, err := backchannel.New(backchannel.Config{Keys: keys{}, Sessions: fk, Linked: fk, Marks: fk, ClientID: clientID, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/oauth2/backchannel-logout", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 200 or 400", w.Code)
			}
			if len(fk.ended) == 0 && len(fk.users) == 0 {
				continue
			}
			if form != "" {
				t.Fatalf("an unsigned form %q ended %v %v", form, fk.ended, fk.users)
			}
			events, _ := c["events"].(map[string]any)
			_, event := events[backchannel.EventURI].(map[string]any)
			jti, _ := c["jti"].(string)
			_, nonce := c["nonce"]
			if !event || jti == "" || nonce {
				t.Fatalf("claims %s ended %v %v without event, jti or with a nonce", claimsJSON, fk.ended, fk.users)
			}
			sid, _ := c["sid"].(string)
			sub, _ := c["sub"].(string)
			for _, s := range fk.ended {
				if s != sid {
					t.Fatalf("claims %s ended session %q", claimsJSON, s)
				}
			}
			for _, u := range fk.users {
				if u != sub {
					t.Fatalf("claims %s ended user %q", claimsJSON, u)
				}
			}
		}
	})
}
