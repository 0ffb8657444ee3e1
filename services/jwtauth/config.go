package jwtauth

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// IssuerConfig describes one trusted token issuer and its key source.
// Exactly one of JWKSURL, PEMKeys and HMACSecret must be set.
type IssuerConfig struct {
	Issuer      string        // exact iss value
	Audience    string        // optional per-issuer audience; "" = Config.Audience
	JWKSURL     string        // key source 1
	PEMKeys     [][]byte      // key source 2 (PEM public keys or certs: RSA, EC P-256, Ed25519)
	HMACSecret  []byte        // key source 3 (HS256)
	Algorithms  []string      // allowed algs; empty = all algs the key source's keys imply
	JWKSRefresh time.Duration // default 5m
}

// Config configures a Verifier.
type Config struct {
	Issuers    []IssuerConfig
	Audience   string
	Leeway     time.Duration // 0 = DefaultLeeway; negative invalid
	CacheSize  int           // verified-token cache entries; 0 = DefaultCacheSize; -1 disables
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	return errors.New("jwtauth: validate: not implemented")
}

// ParseIssuerSpec parses one issuer spec (see package doc).
func ParseIssuerSpec(spec string) (IssuerConfig, error) {
	return IssuerConfig{}, errors.New("jwtauth: issuer spec: not implemented")
}
