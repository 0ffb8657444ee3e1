package jwtauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
	"github.com/golang-jwt/jwt/v5"
)

func ExampleVerifier_Middleware() {
	secret := []byte("an-example-hs256-secret-of-32-bytes!")
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers:  []jwtauth.IssuerConfig{{Issuer: "https://auth.example.com", HMACSecret: secret}},
		Audience: "catalog",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := jwtauth.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", claims.Subject)
	})
	srv := httptest.NewServer(v.Middleware(hello))
	defer srv.Close()

	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://auth.example.com",
		"sub": "user-42",
		"aud": "catalog",
		"exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString(secret)

	for _, auth := range []string{"", "Bearer " + token} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"), strings.TrimSpace(string(body)))
	}
	// Output:
	// 401 Bearer realm="gatewarden" {"error":"unauthenticated","message":"a bearer token is required"}
	// 200  hello user-42
}
