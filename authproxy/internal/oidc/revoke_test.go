package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// TestRevokeRefreshToken: with a revocation_endpoint the token is posted
// as RFC 7009 says, the client authenticated as at the token endpoint
// (Basic by default, in the form for a client_secret_post provider); a 200
// is success, another status an error; without an endpoint (FusionAuth)
// nothing is sent.
func TestRevokeRefreshToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		noEndpoint bool
		postAuth   bool
		status     int
		token      string
		wantOK     bool
		wantErr    bool
		wantForm   url.Values
		wantBasic  bool
	}{
		{name: "basic auth", status: 200, token: "rt-1", wantOK: true, wantBasic: true,
			wantForm: url.Values{"token": {"rt-1"}, "token_type_hint": {"refresh_token"}}},
		{name: "client_secret_post", postAuth: true, status: 200, token: "rt-1", wantOK: true,
			wantForm: url.Values{"token": {"rt-1"}, "token_type_hint": {"refresh_token"}, "client_id": {"c1"}, "client_secret": {"s e/cret"}}},
		{name: "provider fails", status: 503, token: "rt-1", wantErr: true, wantBasic: true,
			wantForm: url.Values{"token": {"rt-1"}, "token_type_hint": {"refresh_token"}}},
		{name: "no revocation_endpoint", noEndpoint: true, token: "rt-1"},
		{name: "no token", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var gotForm url.Values
			var gotUser, gotPass string
			var gotBasic bool
			calls := 0
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/.well-known/openid-configuration":
					doc := map[string]any{"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize",
						"token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/jwks"}
					if !tt.noEndpoint {
						doc["revocation_endpoint"] = srv.URL + "/revoke"
					}
					if tt.postAuth {
						doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_post"}
					}
					_ = json.NewEncoder(w).Encode(doc)
				case "/jwks":
					_, _ = w.Write([]byte(`{"keys":[]}`))
				case "/revoke":
					mu.Lock()
					defer mu.Unlock()
					calls++
					_ = r.ParseForm()
					gotForm = r.PostForm
					gotUser, gotPass, gotBasic = r.BasicAuth()
					w.WriteHeader(tt.status)
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(srv.Close)
			p, err := New(t.Context(), Config{URL: srv.URL, ClientID: "c1", ClientSecret: "s e/cret", RedirectURL: "http://127.0.0.1/cb"})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Discover(t.Context()); err != nil {
				t.Fatal(err)
			}
			ok, err := p.RevokeRefreshToken(context.Background(), tt.token)
			if ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Fatalf("RevokeRefreshToken = %v, %v; want %v, error %v", ok, err, tt.wantOK, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.wantForm == nil {
				if calls != 0 {
					t.Fatalf("%d revocation requests, want none", calls)
				}
				return
			}
			for k := range tt.wantForm {
				if gotForm.Get(k) != tt.wantForm.Get(k) {
					t.Errorf("form %s = %q, want %q", k, gotForm.Get(k), tt.wantForm.Get(k))
				}
			}
			if len(gotForm) != len(tt.wantForm) {
				t.Errorf("form %v, want %v", gotForm, tt.wantForm)
			}
			if gotBasic != tt.wantBasic {
				t.Fatalf("basic auth %v, want %v", gotBasic, tt.wantBasic)
			}
			if gotBasic && (gotUser != "c1" || gotPass != url.QueryEscape("s e/cret")) {
				t.Errorf("basic auth %q:%q, want the form-encoded client id and secret", gotUser, gotPass)
			}
		})
	}
}
