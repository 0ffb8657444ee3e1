// Package svctest helps the catalog and inventory tests: an in-test token
// issuer with a fresh EC P-256 key (public key written as a PEM file, the
// way an operator would configure it), real jwtauth verifiers, and a small
// HTTP client that asserts on JSON answers; and the databases the services
// keep their data in: a throwaway PostgreSQL server (StartPostgres) and the
// embedded SQLite default (Backends, OpenDB).
package svctest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewarden/gatewarden/hack/testkit"
	"github.com/gatewarden/gatewarden/services/internal/svcmain"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// Role names used by the services.
const (
	RoleAdmin         = "admin"
	RoleBranchManager = "branch-manager"
	RoleUser          = "user"
)

// Issuer mints ES256 tokens for one iss.
type Issuer struct {
	Iss     string
	PEMFile string // the public key, PEM encoded
	key     *ecdsa.PrivateKey
}

// NewIssuer returns an issuer with a fresh key whose public half is
// written to a file in t.TempDir().
func NewIssuer(t testing.TB, iss string) *Issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "issuer.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &Issuer{Iss: iss, PEMFile: file, key: key}
}

// Spec returns the --issuer spec trusting this issuer.
func (i *Issuer) Spec() string { return "iss=" + i.Iss + ",pem=" + i.PEMFile }

// Verifier returns a real jwtauth verifier trusting this issuer for aud.
func (i *Issuer) Verifier(t testing.TB, aud string) *jwtauth.Verifier {
	t.Helper()
	ic, err := jwtauth.ParseIssuerSpec(i.Spec())
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.IssuerConfig{ic}, Audience: aud})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// Mint signs c and extra, the claims of a service's own that c has no
// field for (nil for none), after filling iss (if empty), iat and exp (5
// minutes ahead) when they are unset.
func (i *Issuer) Mint(t testing.TB, c jwtauth.Claims, extra map[string]any) string {
	t.Helper()
	now := time.Now()
	if c.Issuer == "" {
		c.Issuer = i.Iss
	}
	if c.IssuedAt == nil {
		c.IssuedAt = jwt.NewNumericDate(now)
	}
	if c.ExpiresAt == nil {
		c.ExpiresAt = jwt.NewNumericDate(now.Add(5 * time.Minute))
	}
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	payload := jwt.MapClaims{}
	if err := json.Unmarshal(b, &payload); err != nil {
		t.Fatal(err)
	}
	maps.Copy(payload, extra)
	s, err := jwt.NewWithClaims(jwt.SigningMethodES256, payload).SignedString(i.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Token mints a token for aud with the subject, roles and branches (the
// inventory's own claim) given.
func (i *Issuer) Token(t testing.TB, aud, sub string, roles []string, branches ...string) string {
	t.Helper()
	var extra map[string]any
	if len(branches) > 0 {
		extra = map[string]any{"branches": branches}
	}
	return i.Mint(t, jwtauth.Claims{Subject: sub, Audience: jwt.ClaimStrings{aud}, Roles: roles}, extra)
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON; body %s", ct, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.Body)
	}
}

// Get sends GET url with the bearer token (none when token is "").
func Get(t testing.TB, client *http.Client, url, token string) Response {
	t.Helper()
	return Do(t, client, http.MethodGet, url, token, "")
}

// Do sends method url with the bearer token (none when "") and body (a JSON
// text; none when "").
func Do(t testing.TB, client *http.Client, method, url, token, body string) Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

// Running is a service started in-process by Start.
type Running struct {
	URL    string // http://127.0.0.1:port
	Stderr *testkit.LogBuffer
	cancel context.CancelFunc
	done   chan int
}

// Stop cancels the service's context, as SIGTERM does, and returns its exit
// code.
func (r *Running) Stop() int {
	r.cancel()
	return <-r.done
}

// Start runs a service's main logic (its run function) in a goroutine with
// args and the environment env, on 127.0.0.1 with a free port, and waits
// until it listens. The test fails if it exits before listening.
func Start(t testing.TB, run func(context.Context, svcmain.Process) int, args []string, env map[string]string) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Stderr: &testkit.LogBuffer{}, cancel: cancel, done: make(chan int, 1)}
	listening := make(chan net.Addr, 1)
	p := svcmain.Process{
		Args:      append([]string{"--listen", "127.0.0.1:0"}, args...),
		LookupEnv: MapEnv(env),
		Stdout:    io.Discard,
		Stderr:    r.Stderr,
		Listening: func(a net.Addr) { listening <- a },
	}
	go func() { r.done <- run(ctx, p) }()
	select {
	case a := <-listening:
		r.URL = "http://" + a.String()
	case code := <-r.done:
		cancel()
		t.Fatalf("service exited with %d before listening:\n%s", code, r.Stderr.String())
	}
	t.Cleanup(func() {
		cancel()
	})
	return r
}

// MapEnv returns a LookupEnv reading env only.
func MapEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// Serve builds a service's router the way svcmain does, with a real
// verifier trusting a fresh issuer for aud, a fresh registry and a debug
// JSON logger writing to logs (nil: discarded), and serves it on
// 127.0.0.1. The server is closed when the test ends.
func Serve(t testing.TB, aud string, logs io.Writer, build func(svcmain.Deps) (http.Handler, error)) (*httptest.Server, *Issuer) {
	t.Helper()
	iss := NewIssuer(t, "https://idp.test")
	if logs == nil {
		logs = io.Discard
	}
	h, err := build(svcmain.Deps{
		Verifier: iss.Verifier(t, aud),
		Logger:   httpkit.NewLogger(logs, slog.LevelDebug),
		Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, iss
}
