// Package forward turns the three forward-auth dialects that ingresses speak
// (Traefik/Caddy X-Forwarded-*, nginx X-Original-URL, Envoy ext_authz with
// the original path under a prefix) into one Request model. Forwarded headers
// are honoured only when the peer is a trusted proxy; repeated headers and
// malformed values are rejected rather than guessed at, and the path is
// normalised with policy.NormalizePath before anyone matches rules on it.
package forward

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
)

// Sentinel errors. The server maps ErrUntrustedPeer to 403 (and logs it) and
// ErrMalformed to 400.
var (
	ErrUntrustedPeer = errors.New("forward: peer is not a trusted proxy")
	ErrMalformed     = errors.New("forward: malformed forwarded request")

	errInvalidHost = fmt.Errorf("%w: invalid host", ErrMalformed)
)

// MaxURI is the longest request-target accepted (ingress-nginx's default
// request line buffer is 8 KiB; Go's header limit alone would allow 1 MiB,
// each byte of which the normaliser would then have to walk).
const MaxURI = 8 << 10

// Request is the original request the ingress asks about.
type Request struct {
	Method string // upper case
	Scheme string // "http" or "https"
	Host   string // lower case, port kept if given
	Path   string // policy.NormalizePath of the request-target: match rules on this
	URI    string // the original request-target (path and query), as sent: for the return URL only
}

// Parser reads forwarded requests from trusted proxies. It is immutable and
// safe for concurrent use.
type Parser struct {
	trusted []netip.Prefix
}

// NewParser returns a Parser trusting peers inside the given prefixes. With
// no prefixes every peer is untrusted.
func NewParser(trusted []netip.Prefix) *Parser {
	ps := make([]netip.Prefix, 0, len(trusted))
	for _, p := range trusted {
		ps = append(ps, p.Masked())
	}
	return &Parser{trusted: ps}
}

// checkPeer verifies that r comes from a trusted proxy.
func (p *Parser) checkPeer(r *http.Request) error {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		addr = a
	} else {
		return ErrUntrustedPeer
	}
	addr = addr.Unmap().WithZone("")
	for _, pfx := range p.trusted {
		if pfx.Contains(addr) {
			return nil
		}
	}
	return ErrUntrustedPeer
}

// Forwarded reads the Traefik ForwardAuth / Caddy forward_auth dialect:
// X-Forwarded-Method, X-Forwarded-Proto (http or https), X-Forwarded-Host
// (host[:port]) and X-Forwarded-Uri (origin-form request-target). All four
// are required and must appear exactly once.
func (p *Parser) Forwarded(r *http.Request) (Request, error) {
	if err := p.checkPeer(r); err != nil {
		return Request{}, err
	}
	method, err := single(r.Header, "X-Forwarded-Method")
	if err != nil {
		return Request{}, err
	}
	proto, err := single(r.Header, "X-Forwarded-Proto")
	if err != nil {
		return Request{}, err
	}
	host, err := single(r.Header, "X-Forwarded-Host")
	if err != nil {
		return Request{}, err
	}
	uri, err := single(r.Header, "X-Forwarded-Uri")
	if err != nil {
		return Request{}, err
	}
	return build(method, proto, host, uri)
}

// Nginx reads the nginx auth_request / ingress-nginx dialect: X-Original-URL
// (an absolute http(s) URL; scheme, host and request-target are taken from
// it) and X-Original-Method. Both are required: ingress-nginx always sends
// both, and a guessed method could match a more permissive rule.
func (p *Parser) Nginx(r *http.Request) (Request, error) {
	if err := p.checkPeer(r); err != nil {
		return Request{}, err
	}
	raw, err := single(r.Header, "X-Original-Url")
	if err != nil {
		return Request{}, err
	}
	method, err := single(r.Header, "X-Original-Method")
	if err != nil {
		return Request{}, err
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Request{}, fmt.Errorf("%w: X-Original-URL is not an absolute URL", ErrMalformed)
	}
	// ingress-nginx writes $scheme://$http_host$request_uri. $http_host is the
	// client's Host header, in which nginx accepts '?', '#', '@' and '\\' but
	// never '/'; $request_uri always starts with '/'. So the authority ends at
	// the first '/' only: splitting at '?' or '#' as a URL parser would lets
	// "Host: x?" turn /branches/1/products into a query of path "/".
	authority, target := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, target = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return Request{}, fmt.Errorf("%w: X-Original-URL carries user info", ErrMalformed)
	}
	// build refuses an authority that is not exactly host[:port].
	return build(method, scheme, authority, target)
}

// Envoy reads the Envoy HTTP ext_authz dialect: Envoy appends the original
// request-target to the configured path prefix, keeps the method and Host,
// and sets X-Forwarded-Proto (http when absent). The raw request-target
// (r.RequestURI) is used when the server set it, so encodings reach
// NormalizePath as the client sent them; otherwise the escaped URL path.
func (p *Parser) Envoy(r *http.Request, prefix string) (Request, error) {
	if err := p.checkPeer(r); err != nil {
		return Request{}, err
	}
	target := r.RequestURI
	if target == "" || target[0] != '/' {
		target = r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
	}
	prefix = strings.TrimSuffix(prefix, "/")
	rest, ok := strings.CutPrefix(target, prefix)
	if !ok {
		return Request{}, fmt.Errorf("%w: path is not under the ext_authz prefix", ErrMalformed)
	}
	switch {
	case rest == "":
		rest = "/"
	case rest[0] == '?':
		rest = "/" + rest
	case rest[0] != '/':
		return Request{}, fmt.Errorf("%w: path is not under the ext_authz prefix", ErrMalformed)
	}
	proto := "http"
	if _, ok := r.Header["X-Forwarded-Proto"]; ok {
		var err error
		if proto, err = single(r.Header, "X-Forwarded-Proto"); err != nil {
			return Request{}, err
		}
	}
	return build(r.Method, proto, r.Host, rest)
}

// single returns the only value of a header; a missing, empty or repeated
// header is malformed (never pick one of several: one may be the attacker's).
// name is looked up as given, without canonicalising it on every request,
// so it must be in canonical form (net/http stores received headers so):
// "X-Original-Url", not "X-Original-URL".
func single(h http.Header, name string) (string, error) {
	vs := h[name]
	switch {
	case len(vs) == 0:
		return "", fmt.Errorf("%w: missing %s", ErrMalformed, name)
	case len(vs) > 1:
		return "", fmt.Errorf("%w: repeated %s", ErrMalformed, name)
	case vs[0] == "":
		return "", fmt.Errorf("%w: empty %s", ErrMalformed, name)
	}
	return vs[0], nil
}

func build(method, scheme, host, uri string) (Request, error) {
	if !validMethod(method) {
		return Request{}, fmt.Errorf("%w: invalid method", ErrMalformed)
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return Request{}, fmt.Errorf("%w: scheme must be http or https", ErrMalformed)
	}
	host, err := validHost(host)
	if err != nil {
		return Request{}, err
	}
	if !strings.HasPrefix(uri, "/") {
		return Request{}, fmt.Errorf("%w: request-target must start with /", ErrMalformed)
	}
	if len(uri) > MaxURI {
		return Request{}, fmt.Errorf("%w: request-target longer than %d bytes", ErrMalformed, MaxURI)
	}
	if i := strings.IndexByte(uri, '#'); i >= 0 {
		uri = uri[:i]
	}
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= ' ' || c == 0x7f {
			return Request{}, fmt.Errorf("%w: control character in request-target", ErrMalformed)
		}
	}
	path, err := policy.NormalizePath(uri)
	if err != nil {
		return Request{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return Request{Method: strings.ToUpper(method), Scheme: scheme, Host: host, Path: path, URI: uri}, nil
}

// validMethod: an RFC 9110 token of at most 32 characters.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHost checks host[:port] syntax (a DNS name, IPv4 address or bracketed
// IPv6 address; port 1-65535) and returns it lower-cased.
func validHost(hp string) (string, error) {
	bad := errInvalidHost
	if hp == "" || len(hp) > 261 {
		return "", bad
	}
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", bad
		}
		a, err := netip.ParseAddr(hp[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", bad
		}
		port = hp[end+1:]
		if port != "" {
			if port[0] != ':' {
				return "", bad
			}
			port = port[1:]
			if port == "" {
				return "", bad
			}
		}
	} else {
		if i := strings.IndexByte(hp, ':'); i >= 0 {
			host, port = hp[:i], hp[i+1:]
			if port == "" {
				return "", bad
			}
		}
		if host == "" || len(host) > 253 {
			return "", bad
		}
		for label := range strings.SplitSeq(strings.TrimSuffix(host, "."), ".") {
			if label == "" || len(label) > 63 {
				return "", bad
			}
			for i := 0; i < len(label); i++ {
				c := label[i]
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
					return "", bad
				}
			}
		}
	}
	if port != "" {
		if len(port) > 5 || strings.TrimLeft(port, "0123456789") != "" {
			return "", bad
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", bad
		}
	}
	return strings.ToLower(hp), nil
}
