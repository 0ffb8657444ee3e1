package jwtauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
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
	// JWKSRefetch is the least time between two refetches of the JWKS that
	// a token with an unknown kid triggers; 0 = DefaultJWKSRefetch. A
	// provider that rotates keys often wants it short.
	JWKSRefetch time.Duration
}

// Config configures a Verifier.
type Config struct {
	Issuers    []IssuerConfig
	Audience   string
	Leeway     time.Duration // 0 = DefaultLeeway; negative invalid
	CacheSize  int           // verified-token cache entries; 0 = DefaultCacheSize; -1 disables
	HTTPClient *http.Client  // for JWKS fetches; nil = a client with a 10 s timeout
	Logger     *slog.Logger  // nil = discard
	Now        func() time.Time
	// Tracer, when set, gives each Verify call a "jwtauth.verify" span and
	// each JWKS fetch a "jwtauth.jwks_fetch" span (the HTTP client's own
	// span, if its transport makes one, is the fetch's child). nil = none.
	Tracer trace.Tracer
	// AcceptIDTokens turns off the refusal of id_tokens (see IDTokenReason).
	// Only a relying party verifying its own id_tokens (authproxy at login)
	// sets it; a service never should.
	AcceptIDTokens bool
	// Revocations, when set, makes the Verifier follow authproxy's
	// revocation feed and refuse revoked tokens (see RevocationConfig).
	Revocations *RevocationConfig
	// OnJWKSFetch, when set, is called after every JWKS fetch (at start,
	// by the refresh loop and on demand) with the issuer and the fetch's
	// error, nil on success: the seam for a fetch-failure metric.
	OnJWKSFetch func(issuer string, err error)
}

// LogValue implements slog.LogValuer without revealing HMAC secrets.
func (ic IssuerConfig) LogValue() slog.Value {
	source := "jwks"
	switch {
	case len(ic.PEMKeys) > 0:
		source = "pem"
	case len(ic.HMACSecret) > 0:
		source = "hmac"
	}
	return slog.GroupValue(
		slog.String("iss", ic.Issuer),
		slog.String("aud", ic.Audience),
		slog.String("source", source),
		slog.String("jwks_url", ic.JWKSURL),
		slog.Any("algs", ic.Algorithms),
	)
}

// Validate reports every problem with the configuration at once (errors.Join);
// each problem wraps ErrConfig.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if len(c.Issuers) == 0 {
		add("no trusted issuer configured")
	}
	if c.Leeway < 0 {
		add("leeway %s is negative", c.Leeway)
	}
	if c.CacheSize < -1 {
		add("cache size %d is invalid (-1 disables, 0 = default)", c.CacheSize)
	}
	if c.Revocations != nil {
		for _, p := range c.Revocations.problems() {
			add("%s", p)
		}
	}
	seen := map[string]bool{}
	for i, ic := range c.Issuers {
		if ic.Issuer != "" {
			if seen[ic.Issuer] {
				add("issuer %q configured twice", ic.Issuer)
			}
			seen[ic.Issuer] = true
		}
		if ic.Audience == "" && c.Audience == "" {
			add("issuer %d (%q): no audience (set Config.Audience or the issuer's aud)", i, ic.Issuer)
		}
		_, _, ierrs := checkIssuer(ic)
		for _, e := range ierrs {
			add("issuer %d (%q): %v", i, ic.Issuer, e)
		}
	}
	return errors.Join(errs...)
}

// checkIssuer validates one issuer and returns its static keys (PEM/HMAC)
// and its allowed algorithms.
func checkIssuer(ic IssuerConfig) (keys []*key, algs []string, errs []error) {
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if ic.Issuer == "" {
		add("iss is empty")
	}
	sources := 0
	var implied []string
	if ic.JWKSURL != "" {
		sources++
		implied = asymmetricAlgs
		u, err := url.Parse(ic.JWKSURL)
		switch {
		case err != nil:
			add("jwks URL: %v", err)
		case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
			add("jwks URL %q is not an absolute http(s) URL", ic.JWKSURL)
		}
	}
	if len(ic.PEMKeys) > 0 {
		sources++
		for j, p := range ic.PEMKeys {
			ks, err := parsePEMKeys(p)
			if err != nil {
				add("pem key %d: %v", j, err)
				continue
			}
			keys = append(keys, ks...)
		}
		for _, k := range keys {
			if !slices.Contains(implied, k.alg) {
				implied = append(implied, k.alg)
			}
		}
	}
	if len(ic.HMACSecret) > 0 {
		sources++
		if len(ic.HMACSecret) < minHMACSecret {
			add("HS256 secret is %d bytes; at least %d required", len(ic.HMACSecret), minHMACSecret)
		}
		implied = []string{algHS256}
		keys = append(keys, &key{alg: algHS256, material: ic.HMACSecret})
	}
	switch sources {
	case 0:
		add("no key source (need one of jwks, pem, hmac)")
	case 1:
	default:
		add("%d key sources; exactly one of jwks, pem, hmac is allowed", sources)
	}
	if ic.JWKSRefresh < 0 {
		add("jwks refresh %s is negative", ic.JWKSRefresh)
	}
	if ic.JWKSRefetch < 0 {
		add("jwks refetch %s is negative", ic.JWKSRefetch)
	}
	algs = implied
	if len(ic.Algorithms) > 0 {
		algs = nil
		for _, a := range ic.Algorithms {
			switch {
			case !supportedAlg(a):
				add("algorithm %q is not supported", a)
			case sources == 1 && !slices.Contains(implied, a):
				add("algorithm %s does not fit the key source (keys imply %s)", a, strings.Join(implied, ", "))
			default:
				algs = append(algs, a)
			}
		}
	}
	if sources == 1 && len(ic.PEMKeys) > 0 && len(keys) > 0 {
		usable := slices.ContainsFunc(keys, func(k *key) bool { return slices.Contains(algs, k.alg) })
		if !usable {
			add("no PEM key fits the allowed algorithms")
		}
	}
	return keys, algs, errs
}

// ParseIssuerSpec parses one issuer spec as given to --issuer or JWT_ISSUERS:
//
//	iss=<issuer>,jwks=<url>[,aud=<audience>][,algs=RS256|ES256][,refresh=5m][,refetch=30s]
//	iss=<issuer>,pem=<file>[,pem=<file2>][,aud=...][,algs=...]
//	iss=<issuer>,hmac-file=<file>[,aud=...]
//
// It reads the named files (an HMAC file's trailing newline is dropped) and
// reports every problem at once: unknown or repeated keys, a missing iss,
// zero or several key sources, unsupported algorithms, unreadable files.
// Error messages never contain key material.
func ParseIssuerSpec(spec string) (IssuerConfig, error) {
	var (
		ic      IssuerConfig
		errs    []error
		seen    = map[string]bool{}
		fileErr bool
	)
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: issuer spec: "+format, append([]any{ErrConfig}, args...)...))
	}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		name, value, ok := strings.Cut(part, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			add("%q is not key=value", part)
			continue
		}
		if name != "pem" && seen[name] {
			add("%s given twice", name)
			continue
		}
		seen[name] = true
		if value == "" {
			add("%s is empty", name)
			continue
		}
		switch name {
		case "iss":
			ic.Issuer = value
		case "aud":
			ic.Audience = value
		case "jwks":
			ic.JWKSURL = value
		case "algs":
			ic.Algorithms = strings.Split(value, "|")
		case "refresh":
			d, err := time.ParseDuration(value)
			if err != nil || d <= 0 {
				add("refresh %q is not a positive duration", value)
			}
			ic.JWKSRefresh = d
		case "refetch":
			d, err := time.ParseDuration(value)
			if err != nil || d <= 0 {
				add("refetch %q is not a positive duration", value)
			}
			ic.JWKSRefetch = d
		case "pem":
			b, err := os.ReadFile(value) //nolint:gosec // G304: the path comes from the operator's configuration
			if err != nil {
				add("pem: %v", err)
				fileErr = true
				continue
			}
			ic.PEMKeys = append(ic.PEMKeys, b)
		case "hmac-file":
			b, err := os.ReadFile(value) //nolint:gosec // G304: the path comes from the operator's configuration
			if err != nil {
				add("hmac-file: %v", err)
				fileErr = true
				continue
			}
			ic.HMACSecret = []byte(strings.TrimRight(string(b), "\r\n"))
			if len(ic.HMACSecret) == 0 {
				add("hmac-file %s is empty", value)
				fileErr = true
			}
		default:
			add("unknown key %q (known: iss, aud, jwks, pem, hmac-file, algs, refresh, refetch)", name)
		}
	}
	if !fileErr {
		// Skipped after an unreadable key file, which would otherwise also
		// be reported as a missing key source.
		_, _, ierrs := checkIssuer(ic)
		for _, e := range ierrs {
			add("iss %q: %v", ic.Issuer, e)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return IssuerConfig{}, err
	}
	return ic, nil
}
