package forward

import (
	"bufio"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
)

// The differential test: for a client request (method, Host header,
// request-target) that a proxy accepts, build the forward-auth request
// exactly as that proxy does, parse it with the matching dialect, and check
// that authproxy either refuses it or decides on the host and the path the
// proxy will send upstream. A parser that reads a different path than the
// upstream serves is an authorization bypass (issue 11: "Host: x?" made
// ingress-nginx's X-Original-URL read as path "/").
//
// How each proxy builds its headers (from their sources):
//   - ingress-nginx auth-url (and the nginx auth_request configs in the
//     docs): proxy_set_header X-Original-URL $scheme://$http_host$request_uri
//     and X-Original-Method $request_method. $http_host is the client's Host
//     header as sent; ngx_http_validate_host refuses only '/', '\0', control
//     characters and space, a ".." and an empty host, so '?', '#', '@' and '\'
//     pass. $request_uri is the raw request-target, always starting with '/'
//     (for an absolute-form request line nginx keeps only the path part).
//     proxy_pass without a URI sends the same $request_uri upstream.
//   - Traefik ForwardAuth (pkg/middlewares/auth/forward.go writeHeader):
//     X-Forwarded-Method = req.Method, -Proto = http/https, -Host = req.Host,
//     -Uri = req.URL.RequestURI(), with req parsed by Go's net/http; the
//     upstream gets req.URL's RequestURI() too. Caddy's forward_auth sets the
//     same headers from its own copy of the request.
//   - Envoy Gateway extAuth (HTTP): Envoy's ext_authz HTTP service sends the
//     original :path appended to path_prefix, the original method and
//     :authority as Host, and x-forwarded-proto; the upstream gets :path.
//
// The proxy models accept a superset of what the real proxies accept (any
// Host without '/', control characters or space): a parser that is right for
// the superset is right for the real proxy.

// proxyAcceptsHost is the superset of Host headers nginx, Go's net/http and
// Envoy let through to a forward-auth request.
func proxyAcceptsHost(h string) bool {
	if h == "" || strings.Contains(h, "/") {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// proxyAcceptsTarget: an origin-form request-target as the proxies pass it on.
func proxyAcceptsTarget(u string) bool {
	if !strings.HasPrefix(u, "/") {
		return false
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// plainHost and plainPath describe ordinary requests that every dialect must
// accept (a parser that refuses everything would otherwise pass).
var (
	plainHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,20}){0,3}(:[1-9][0-9]{0,3})?$`)
	plainPath = regexp.MustCompile(`^(/[a-zA-Z0-9_-]{1,20}){0,6}/?(\?[a-z0-9=&]{0,20})?$`)
)

// agree checks one dialect's answer against what the proxy sends upstream.
func agree(t *testing.T, dialect, host, upstreamTarget string, got Request, err error) {
	t.Helper()
	wantPath, perr := policy.NormalizePath(upstreamTarget)
	if err != nil {
		if plainHost.MatchString(host) && plainPath.MatchString(upstreamTarget) {
			t.Fatalf("%s: ordinary request host %q target %q refused: %v", dialect, host, upstreamTarget, err)
		}
		return
	}
	if perr != nil {
		t.Fatalf("%s: accepted host %q target %q whose path the upstream cannot normalise (%v): %+v", dialect, host, upstreamTarget, perr, got)
	}
	if got.Path != wantPath {
		t.Fatalf("%s: host %q target %q: authproxy decides on path %q, upstream serves %q", dialect, host, upstreamTarget, got.Path, wantPath)
	}
	if got.Host != strings.ToLower(host) {
		t.Fatalf("%s: host %q target %q: authproxy decides on host %q", dialect, host, upstreamTarget, got.Host)
	}
}

func checkDialectsAgree(t *testing.T, p *Parser, method, host, target string) {
	t.Helper()
	if !validMethod(method) || !proxyAcceptsHost(host) || !proxyAcceptsTarget(target) {
		return
	}
	// ingress-nginx: the raw Host and request-target, concatenated.
	r := newReq("127.0.0.1:9", map[string][]string{
		"X-Original-Url":    {"https://" + host + target},
		"X-Original-Method": {method},
	})
	got, err := p.Nginx(r)
	agree(t, "ingress-nginx", host, target, got, err)

	// Traefik: what Go's net/http makes of the request line and Host.
	if req, rerr := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"))); rerr == nil {
		r := newReq("127.0.0.1:9", fwdHeaders(req.Method, "https", req.Host, req.URL.RequestURI()))
		got, err := p.Forwarded(r)
		agree(t, "traefik", req.Host, req.URL.RequestURI(), got, err)
	}

	// Envoy Gateway: prefix + :path, Host = :authority, as authproxy's Go
	// server reads it off the wire.
	if req, rerr := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " /authz/envoy" + target + " HTTP/1.1\r\nHost: " + host + "\r\nX-Forwarded-Proto: https\r\n\r\n"))); rerr == nil {
		req.RemoteAddr = "127.0.0.1:9"
		got, err := p.Envoy(req, "/authz/envoy")
		agree(t, "envoy", host, target, got, err)
	}
}

// TestDialectsAgree runs the differential check on the requests the attack
// run used and on ordinary ones (the fuzz seeds, run by every go test).
func TestDialectsAgree(t *testing.T) {
	t.Parallel()
	p := NewParser(defaultTrusted)
	for _, s := range differentialSeeds {
		t.Run(s.host+" "+s.target, func(t *testing.T) {
			t.Parallel()
			checkDialectsAgree(t, p, s.method, s.host, s.target)
		})
	}
}

var differentialSeeds = []struct{ method, host, target string }{
	{"GET", "x?", "/branches/1/products"},
	{"GET", "x#", "/branches/1/products"},
	{"GET", "x:80?", "/branches/1/products"},
	{"GET", "x?@y", "/branches/1/products"},
	{"GET", `x\y`, "/branches/1/products"},
	{"GET", "a@b", "/admin/x"},
	{"GET", "shop.example.com", "/branches/1/products?page=2"},
	{"GET", "localhost:8000", "/products/../branches/1/products"},
	{"GET", "h", "/%62ranches/1/products"},
	{"GET", "h", "//branches/1/products"},
	{"GET", "h", "/products#/../branches/1/products"},
	{"GET", "h", "/products?/../branches/1/products"},
	{"POST", "[::1]:8080", "/account/x"},
	{"GET", "h", "/products/%2e%2e/branches/1/products"},
	{"GET", "h", "/products/..%2fbranches/1/products"},
	{"GET", "h", "/"},
	{"GET", "h.example", "/a/b/"},
}

func FuzzDialectsAgree(f *testing.F) {
	for _, s := range differentialSeeds {
		f.Add(s.method, s.host, s.target)
	}
	p := NewParser(defaultTrusted)
	f.Fuzz(func(t *testing.T, method, host, target string) {
		checkDialectsAgree(t, p, method, host, target)
	})
}
