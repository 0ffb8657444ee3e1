package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// claimsHandler answers 200 with the verified subject and roles.
func claimsHandler(t testing.TB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := FromContext(r.Context())
		if !ok {
			t.Error("handler reached without claims")
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": c.Subject, "iss": c.Issuer})
	})
}

type response struct {
	status      int
	challenge   string
	contentType string
	body        map[string]any
}

// do sends GET url with the given Authorization header values.
func do(t *testing.T, url string, auth []string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	return response{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"),
		contentType: resp.Header.Get("Content-Type"), body: body}
}

var (
	challengeNoToken = `Bearer realm="gatewarden"`
	challengeInvalid = `Bearer error="invalid_token"`
	bodyNoToken      = map[string]any{"error": "unauthenticated", "message": "a bearer token is required"}
	bodyInvalid      = map[string]any{"error": "invalid_token", "message": "the access token is invalid or expired"}
)

// TestMiddlewareAttacks runs every attack of issue 2 through real HTTP and,
// for token attacks, checks that Verify fails for the intended reason.
func TestMiddlewareAttacks(t *testing.T) {
	t.Parallel()
	a, b, c := keysA(), keysB(), keysC()
	jw := newJWKSServer(t, defaultJWKS())
	clk := newClock()
	v := newVerifier(t, testConfig(t, clk, jw.URL))
	srv := httptest.NewServer(v.Middleware(claimsHandler(t)))
	t.Cleanup(srv.Close)

	valid := sign(t, jwt.SigningMethodRS256, a.rsa, "", claims(issPEM))
	parts := strings.Split(valid, ".")
	forged, _ := json.Marshal(with(claims(issPEM), "sub", "someone-else", "roles", []string{"superadmin"}))
	tampered := parts[0] + "." + b64u(forged) + "." + parts[2]
	now := t0.Unix()
	ok := func(iss string) map[string]any { return map[string]any{"sub": "user-1", "iss": iss} }

	tests := []struct {
		name      string
		auth      []string // Authorization header values
		token     string   // checked with Verify too when set
		wantErr   error
		status    int
		challenge string
		body      map[string]any
	}{
		// Accepted tokens: one per key source and algorithm.
		{name: "valid RS256 PEM", token: valid, status: 200, body: ok(issPEM)},
		{name: "valid ES256 PEM", token: sign(t, jwt.SigningMethodES256, a.ec, "", claims(issPEM)), status: 200, body: ok(issPEM)},
		{name: "valid EdDSA PEM", token: sign(t, jwt.SigningMethodEdDSA, a.ed, "", claims(issPEM)), status: 200, body: ok(issPEM)},
		{name: "valid HS256 secret", token: sign(t, jwt.SigningMethodHS256, a.hmac, "", claims(issHMAC)), status: 200, body: ok(issHMAC)},
		{name: "valid RS256 JWKS", token: sign(t, jwt.SigningMethodRS256, b.rsa, kidRSA, claims(issJWKS)), status: 200, body: ok(issJWKS)},
		{name: "valid ES256 JWKS", token: sign(t, jwt.SigningMethodES256, b.ec, kidEC, claims(issJWKS)), status: 200, body: ok(issJWKS)},
		{name: "aud array containing audience", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "aud", []string{"catalog", audInv})), status: 200, body: ok(issPEM)},
		{name: "lower-case scheme accepted (RFC 7235)", auth: []string{"bearer " + valid}, status: 200, body: ok(issPEM)},
		{name: "exp passed within leeway accepted", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "exp", now-20)), status: 200, body: ok(issPEM)},
		{name: "nbf future within leeway accepted", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "nbf", now+20)), status: 200, body: ok(issPEM)},
		{name: "iat future within leeway accepted", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "iat", now+20)), status: 200, body: ok(issPEM)},

		// Header attacks.
		{name: "no header", status: 401, challenge: challengeNoToken, body: bodyNoToken},
		{name: "Basic header", auth: []string{"Basic dXNlcjpwYXNz"}, status: 401, challenge: challengeNoToken, body: bodyNoToken},
		{name: "Bearer with no token", auth: []string{"Bearer"}, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "Bearer with empty token", auth: []string{"Bearer "}, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "Bearer with extra parts", auth: []string{"Bearer " + valid + " extra"}, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "Bearer with two spaces", auth: []string{"Bearer  " + valid}, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "two Authorization headers", auth: []string{"Bearer " + valid, "Bearer " + valid}, status: 401, challenge: challengeInvalid, body: bodyInvalid},

		// Token attacks.
		{name: "alg none without signature", token: rawToken(`{"alg":"none","typ":"JWT"}`, claims(issPEM), nil), wantErr: ErrMalformed, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "alg none with signature", token: rawToken(`{"alg":"none","typ":"JWT"}`, claims(issPEM), []byte("x")), wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "HS256 signed with RSA public key PEM", token: sign(t, jwt.SigningMethodHS256, pemPublic(t, &a.rsa.PublicKey), "", claims(issPEM)), wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "HS256 signed with EC public key PEM", token: sign(t, jwt.SigningMethodHS256, pemPublic(t, &a.ec.PublicKey), "", claims(issPEM)), wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "HS256 signed with JWKS RSA key and its kid", token: sign(t, jwt.SigningMethodHS256, pemPublic(t, &b.rsa.PublicKey), kidRSA, claims(issJWKS)), wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "ES256 token naming the RSA kid", token: sign(t, jwt.SigningMethodES256, b.ec, kidRSA, claims(issJWKS)), wantErr: ErrUnknownKey, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "unknown kid", token: sign(t, jwt.SigningMethodRS256, b.rsa, "no-such-kid", claims(issJWKS)), wantErr: ErrUnknownKey, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "JWKS token without kid", token: sign(t, jwt.SigningMethodRS256, b.rsa, "", claims(issJWKS)), wantErr: ErrUnknownKey, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "right kid, signature from another key", token: sign(t, jwt.SigningMethodRS256, c.rsa, kidRSA, claims(issJWKS)), wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "PEM issuer, signature from another key", token: sign(t, jwt.SigningMethodRS256, c.rsa, "", claims(issPEM)), wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "issuer A token signed with issuer B key", token: sign(t, jwt.SigningMethodRS256, a.rsa, kidRSA, claims(issJWKS)), wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "issuer B token signed with issuer A key", token: sign(t, jwt.SigningMethodRS256, b.rsa, "", claims(issPEM)), wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "PEM issuer token signed with HMAC issuer secret", token: sign(t, jwt.SigningMethodHS256, a.hmac, "", claims(issPEM)), wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "expired beyond leeway", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "exp", now-31)), wantErr: ErrExpired, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "no exp", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "exp", nil)), wantErr: ErrMissingClaim, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "nbf future beyond leeway", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "nbf", now+31)), wantErr: ErrNotYetValid, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "iat future beyond leeway", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "iat", now+31)), wantErr: ErrNotYetValid, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "untrusted iss", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "iss", "https://evil.test")), wantErr: ErrUntrustedIssuer, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "no iss", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "iss", nil)), wantErr: ErrUntrustedIssuer, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "catalog token replayed at inventory", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "aud", "catalog")), wantErr: ErrAudience, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "no aud", token: sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(issPEM), "aud", nil)), wantErr: ErrMissingClaim, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "tampered payload", token: tampered, wantErr: ErrSignature, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "64 KiB token", token: sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "pad", strings.Repeat("a", 64<<10))), wantErr: ErrTooLarge, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "crit header", token: rawSigned(t, `{"alg":"HS256","crit":["exp"],"exp":1}`, claims(issHMAC), a.hmac), wantErr: ErrMalformed, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "padded base64", token: valid + "==", wantErr: ErrMalformed, status: 401, challenge: challengeInvalid, body: bodyInvalid},
		{name: "four segments", token: valid + ".x", wantErr: ErrMalformed, status: 401, challenge: challengeInvalid, body: bodyInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			auth := tt.auth
			if tt.token != "" {
				auth = []string{"Bearer " + tt.token}
				_, err := v.Verify(context.Background(), tt.token)
				switch {
				case tt.wantErr == nil && err != nil:
					t.Fatalf("Verify: %v", err)
				case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
					t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
				case tt.wantErr != nil && !errors.Is(err, ErrInvalidToken):
					t.Fatalf("Verify error %v does not wrap ErrInvalidToken", err)
				}
			}
			got := do(t, srv.URL+"/products", auth)
			if got.status != tt.status {
				t.Errorf("status = %d, want %d", got.status, tt.status)
			}
			if got.challenge != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got.challenge, tt.challenge)
			}
			if diff := cmp.Diff(tt.body, got.body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// rawSigned signs an arbitrary header JSON with HS256.
func rawSigned(t testing.TB, header string, c jwt.MapClaims, secret []byte) string {
	t.Helper()
	p, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	signing := b64u([]byte(header)) + "." + b64u(p)
	sig, err := jwt.SigningMethodHS256.Sign(signing, secret)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64u(sig)
}

// TestLeewayConfigurable checks that Config.Leeway replaces the default.
func TestLeewayConfigurable(t *testing.T) {
	t.Parallel()
	a := keysA()
	clk := newClock()
	cfg := testConfig(t, clk, "http://127.0.0.1:1/jwks")
	cfg.Issuers = cfg.Issuers[:2]
	cfg.Leeway = 5 * time.Second
	cfg.CacheSize = -1
	v := newVerifier(t, cfg)
	tok := sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "exp", t0.Unix()-10))
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("10 s past exp with 5 s leeway: err = %v, want ErrExpired", err)
	}
	tok = sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "exp", t0.Unix()-3))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("3 s past exp with 5 s leeway: %v", err)
	}
}

// TestPerIssuerAudience checks an issuer's own audience overrides Config.Audience.
func TestPerIssuerAudience(t *testing.T) {
	t.Parallel()
	a := keysA()
	cfg := testConfig(t, newClock(), "http://127.0.0.1:1/jwks")
	cfg.Issuers = cfg.Issuers[:2]
	cfg.Issuers[1].Audience = "app-id"
	v := newVerifier(t, cfg)
	for _, tt := range []struct {
		name, iss, aud string
		wantErr        error
	}{
		{name: "override accepted", iss: issHMAC, aud: "app-id"},
		{name: "global audience refused where overridden", iss: issHMAC, aud: audInv, wantErr: ErrAudience},
		{name: "global audience for other issuer", iss: issPEM, aud: audInv},
		{name: "override not valid for other issuer", iss: issPEM, aud: "app-id", wantErr: ErrAudience},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tok string
			if tt.iss == issHMAC {
				tok = sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(tt.iss), "aud", tt.aud))
			} else {
				tok = sign(t, jwt.SigningMethodES256, a.ec, "", with(claims(tt.iss), "aud", tt.aud))
			}
			_, err := v.Verify(context.Background(), tok)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
