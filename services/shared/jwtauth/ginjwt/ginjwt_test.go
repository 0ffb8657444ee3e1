package ginjwt

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// TestSameAnswersAsNetHTTP sends every request to a gin engine using the
// adapters and to a mux using jwtauth's net/http middleware (whose answers
// jwtauth's own tests pin down) and wants the same status, challenge and
// body from both, and the claims in the context on success.
func TestSameAnswersAsNetHTTP(t *testing.T) {
	t.Parallel()
	const iss = "https://idp.test"
	secret := []byte("a-test-hs256-secret-of-32-bytes!")
	v, err := jwtauth.New(t.Context(), jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{{Issuer: iss, HMACSecret: secret}}, Audience: "catalog",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	token := func(roles ...string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": iss, "sub": "user-1", "aud": "catalog", "roles": roles,
			"exp": time.Now().Add(time.Minute).Unix(),
		}).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	subject := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := jwtauth.FromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, c.Subject)
	})
	roles := []string{"admin", "branch-manager"}

	mux := http.NewServeMux()
	mux.Handle("/products", v.Middleware(subject))
	mux.Handle("/admin", v.Middleware(jwtauth.RequireAnyRole(roles...)(subject)))
	mux.Handle("/unguarded-admin", jwtauth.RequireAnyRole(roles...)(subject))
	std := httptest.NewServer(mux)
	t.Cleanup(std.Close)

	gin.SetMode(gin.TestMode)
	g := gin.New()
	wrapped := gin.WrapH(subject)
	g.GET("/products", Middleware(v), wrapped)
	g.GET("/admin", Middleware(v), RequireAnyRole(roles...), wrapped)
	g.GET("/unguarded-admin", RequireAnyRole(roles...), wrapped)
	gs := httptest.NewServer(g)
	t.Cleanup(gs.Close)

	type answer struct {
		Status      int
		Challenge   string
		ContentType string
		Body        string
	}
	get := func(url, tok string) answer {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Content-Type"), string(b)}
	}
	admin, user := token("admin"), token("user")
	for _, tt := range []struct {
		name, path, token string
		status            int
	}{
		{name: "valid token", path: "/products", token: admin, status: http.StatusOK},
		{name: "no token", path: "/products", status: http.StatusUnauthorized},
		{name: "bad token", path: "/products", token: admin + "x", status: http.StatusUnauthorized},
		{name: "role present", path: "/admin", token: admin, status: http.StatusOK},
		{name: "role missing", path: "/admin", token: user, status: http.StatusForbidden},
		{name: "role check without verifier fails closed", path: "/unguarded-admin", token: admin, status: http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, got := get(std.URL+tt.path, tt.token), get(gs.URL+tt.path, tt.token)
			if want.Status != tt.status {
				t.Fatalf("net/http status %d, want %d", want.Status, tt.status)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("gin answer differs from net/http (-net/http +gin):\n%s", d)
			}
			if tt.status == http.StatusOK && got.Body != "user-1" {
				t.Errorf("handler saw %q, want the claims' subject", got.Body)
			}
		})
	}
}
