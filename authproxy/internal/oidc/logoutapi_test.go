package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestRevokeWithLogoutAPI: a FusionAuth-shaped provider (no
// revocation_endpoint, token endpoint at /oauth2/token under a base path)
// gets the refresh token at /api/logout beside it, as JSON with global
// false and no client credentials; a revocation_endpoint wins over it; an
// option turned off, or a token endpoint of another shape, sends nothing.
func TestRevokeWithLogoutAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		off        bool   // Config.LogoutAPI false
		tokenPath  string // the token endpoint's path
		revocation bool   // announce a revocation_endpoint
		status     int
		wantOK     bool
		wantErr    bool
		wantPath   string // where the revocation went; "" for nowhere
	}{
		{name: "fusionauth", tokenPath: "/oauth2/token", status: 200, wantOK: true, wantPath: "/api/logout"},
		{name: "under a base path", tokenPath: "/fa/oauth2/token", status: 200, wantOK: true, wantPath: "/fa/api/logout"},
		{name: "fusionauth fails", tokenPath: "/oauth2/token", status: 500, wantErr: true, wantPath: "/api/logout"},
		{name: "revocation_endpoint wins", tokenPath: "/oauth2/token", revocation: true, status: 200, wantOK: true, wantPath: "/revoke"},
		{name: "option off", off: true, tokenPath: "/oauth2/token", status: 200},
		{name: "not fusionauth-shaped", tokenPath: "/token", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var paths []string
			var body map[string]any
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/.well-known/openid-configuration":
					doc := map[string]any{"issuer": "acme.com", "authorization_endpoint": srv.URL + "/authorize",
						"token_endpoint": srv.URL + tt.tokenPath + "?x=1", "jwks_uri": srv.URL + "/jwks"}
					if tt.revocation {
						doc["revocation_endpoint"] = srv.URL + "/revoke"
					}
					_ = json.NewEncoder(w).Encode(doc)
				case "/jwks":
					_, _ = w.Write([]byte(`{"keys":[]}`))
				default:
					mu.Lock()
					defer mu.Unlock()
					paths = append(paths, r.URL.Path)
					if r.Header.Get("Content-Type") == "application/json" {
						_ = json.NewDecoder(r.Body).Decode(&body)
					}
					if _, _, basic := r.BasicAuth(); basic && r.URL.Path != "/revoke" {
						t.Errorf("client credentials sent to %s", r.URL.Path)
					}
					w.WriteHeader(tt.status)
				}
			}))
			t.Cleanup(srv.Close)
			p, err := New(t.Context(), Config{URL: srv.URL, ClientID: "c1", ClientSecret: "s", RedirectURL: "http://127.0.0.1/cb", LogoutAPI: !tt.off})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Discover(t.Context()); err != nil {
				t.Fatal(err)
			}
			ok, err := p.RevokeRefreshToken(context.Background(), "rt-1")
			if ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Fatalf("RevokeRefreshToken = %v, %v; want %v, error %v", ok, err, tt.wantOK, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.wantPath == "" {
				if len(paths) != 0 {
					t.Fatalf("requests to %v, want none", paths)
				}
				return
			}
			if len(paths) != 1 || paths[0] != tt.wantPath {
				t.Fatalf("requests to %v, want one to %s", paths, tt.wantPath)
			}
			if tt.wantPath == "/revoke" {
				return
			}
			if body["refreshToken"] != "rt-1" || body["global"] != false || len(body) != 2 {
				t.Errorf("body %v, want refreshToken rt-1 and global false", body)
			}
		})
	}
}
