package jwtauth

import (
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	a := keysA()
	cfg := Config{
		Leeway:    -time.Second,
		CacheSize: -2,
		Issuers: []IssuerConfig{
			{},
			{Issuer: "dup", JWKSURL: "ftp://x/jwks", HMACSecret: a.hmac},
			{Issuer: "dup", HMACSecret: []byte("short"), Algorithms: []string{"RS256"}},
			{Issuer: "pem", PEMKeys: [][]byte{pemPublic(t, &a.rsa.PublicKey)}, Algorithms: []string{"HS256", "none"}},
			{Issuer: "neg", JWKSURL: "https://idp/jwks", JWKSRefresh: -time.Second},
		},
	}
	err := cfg.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"leeway -1s is negative",
		"cache size -2",
		`issuer 0 ("")`, "iss is empty", "no key source",
		`issuer "dup" configured twice`,
		"no audience",
		`jwks URL "ftp://x/jwks" is not an absolute http(s) URL`,
		"2 key sources",
		"HS256 secret is 5 bytes; at least 32 required",
		"algorithm RS256 does not fit the key source",
		"algorithm HS256 does not fit the key source (keys imply RS256)",
		`algorithm "none" is not supported`,
		"no PEM key fits the allowed algorithms",
		"jwks refresh -1s is negative",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "short") {
		t.Errorf("error reveals the HMAC secret:\n%s", msg)
	}
	if (Config{}).Validate() == nil {
		t.Error("empty config validated")
	}
}

func TestValidatePEMKeys(t *testing.T) {
	t.Parallel()
	a := keysA()
	small, err := rsaKey1024()
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(a.ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{name: "PKIX RSA", pem: pemPublic(t, &a.rsa.PublicKey)},
		{name: "PKCS1 RSA", pem: pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&a.rsa.PublicKey)})},
		{name: "Ed25519", pem: pemPublic(t, a.ed.Public())},
		{name: "certificate", pem: selfSignedCert(t)},
		{name: "bundle of two", pem: append(pemPublic(t, &a.ec.PublicKey), pemPublic(t, a.ed.Public())...)},
		{name: "private key refused", pem: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), wantErr: "not a public key"},
		{name: "1024-bit RSA refused", pem: pemPublic(t, &small.PublicKey), wantErr: "shorter than 2048"},
		{name: "not PEM", pem: []byte("hello"), wantErr: "data outside PEM blocks"},
		{name: "garbage block", pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("x")}), wantErr: "PEM block"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Config{Audience: "x", Issuers: []IssuerConfig{{Issuer: "i", PEMKeys: [][]byte{tt.pem}}}}.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func rsaKey1024() (*rsa.PrivateKey, error) { return rsa.GenerateKey(testRand{}, 1024) }

func selfSignedCert(t *testing.T) []byte {
	t.Helper()
	a := keysA()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gw"}, NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(testRand{}, tmpl, tmpl, &a.ec.PublicKey, a.ec)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestParseIssuerSpec(t *testing.T) {
	t.Parallel()
	a := keysA()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rsaPEM, ecPEM := pemPublic(t, &a.rsa.PublicKey), pemPublic(t, &a.ec.PublicKey)
	rsaFile, ecFile := write("rsa.pem", rsaPEM), write("ec.pem", ecPEM)
	secret := strings.Repeat("s", 40)
	hmacFile := write("hmac", []byte(secret+"\n"))
	shortFile := write("short", []byte("tooshort\n"))

	for _, tt := range []struct {
		name    string
		spec    string
		want    IssuerConfig
		wantErr []string
	}{
		{name: "jwks with aud, algs, refresh", spec: "iss=https://idp,jwks=https://idp/.well-known/jwks.json?x=1,aud=app,algs=RS256|ES256,refresh=1m",
			want: IssuerConfig{Issuer: "https://idp", JWKSURL: "https://idp/.well-known/jwks.json?x=1", Audience: "app", Algorithms: []string{"RS256", "ES256"}, JWKSRefresh: time.Minute}},
		{name: "two pem files", spec: "iss=gw, pem=" + rsaFile + " ,pem=" + ecFile,
			want: IssuerConfig{Issuer: "gw", PEMKeys: [][]byte{rsaPEM, ecPEM}}},
		{name: "hmac file, newline dropped", spec: "iss=fa,hmac-file=" + hmacFile,
			want: IssuerConfig{Issuer: "fa", HMACSecret: []byte(secret)}},
		{name: "unknown key", spec: "iss=x,jwks=https://a/j,colour=red", wantErr: []string{`unknown key "colour"`}},
		{name: "missing iss", spec: "jwks=https://a/j", wantErr: []string{"iss is empty"}},
		{name: "no key source", spec: "iss=x", wantErr: []string{"no key source"}},
		{name: "two key sources", spec: "iss=x,jwks=https://a/j,pem=" + rsaFile, wantErr: []string{"2 key sources"}},
		{name: "unsupported alg", spec: "iss=x,jwks=https://a/j,algs=RS256|HS256", wantErr: []string{"algorithm HS256 does not fit"}},
		{name: "alg not matching pem", spec: "iss=x,pem=" + rsaFile + ",algs=ES256", wantErr: []string{"algorithm ES256 does not fit"}},
		{name: "repeated key", spec: "iss=x,iss=y,jwks=https://a/j", wantErr: []string{"iss given twice"}},
		{name: "not key=value", spec: "iss=x,jwks=https://a/j,oops", wantErr: []string{`"oops" is not key=value`}},
		{name: "empty value", spec: "iss=,jwks=https://a/j", wantErr: []string{"iss is empty"}},
		{name: "missing file", spec: "iss=x,pem=" + filepath.Join(dir, "nope.pem"), wantErr: []string{"pem: open"}},
		{name: "short hmac secret", spec: "iss=x,hmac-file=" + shortFile, wantErr: []string{"HS256 secret is 8 bytes"}},
		{name: "refetch for a provider rotating keys often", spec: "iss=https://idp,jwks=https://idp/j,aud=app,refetch=5s",
			want: IssuerConfig{Issuer: "https://idp", JWKSURL: "https://idp/j", Audience: "app", JWKSRefetch: 5 * time.Second}},
		{name: "bad refetch", spec: "iss=x,jwks=https://a/j,refetch=0s", wantErr: []string{`refetch "0s"`}},
		{name: "bad refresh", spec: "iss=x,jwks=https://a/j,refresh=soon", wantErr: []string{`refresh "soon"`}},
		{name: "every problem at once", spec: "colour=red,algs=XX256", wantErr: []string{`unknown key "colour"`, "iss is empty", "no key source", `"XX256" is not supported`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseIssuerSpec(tt.spec)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "tooshort") {
				t.Errorf("error reveals the secret: %v", err)
			}
		})
	}
}
