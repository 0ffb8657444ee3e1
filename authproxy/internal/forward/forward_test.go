package forward

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
)

var defaultTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}

func newReq(remote string, h map[string][]string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/authz", nil)
	r.RemoteAddr = remote
	for k, vs := range h {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

func fwdHeaders(method, proto, host, uri string) map[string][]string {
	h := map[string][]string{}
	for k, v := range map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Proto": proto, "X-Forwarded-Host": host, "X-Forwarded-Uri": uri} {
		if v != "-" {
			h[k] = []string{v}
		}
	}
	return h
}

func TestForwarded(t *testing.T) {
	t.Parallel()
	p := NewParser(defaultTrusted)
	tests := []struct {
		name    string
		remote  string
		headers map[string][]string
		want    Request
		wantErr error
	}{
		{
			name:    "traefik request",
			remote:  "127.0.0.1:51234",
			headers: fwdHeaders("GET", "https", "Shop.Example.com", "/products/1?x=1"),
			want:    Request{Method: "GET", Scheme: "https", Host: "shop.example.com", Path: "/products/1", URI: "/products/1?x=1"},
		},
		{
			name:    "dot segments normalised, raw URI kept",
			remote:  "10.1.2.3:1",
			headers: fwdHeaders("get", "HTTP", "localhost:8000", "/products/../branches/1/products"),
			want:    Request{Method: "GET", Scheme: "http", Host: "localhost:8000", Path: "/branches/1/products", URI: "/products/../branches/1/products"},
		},
		{
			name:    "ipv4-mapped ipv6 peer",
			remote:  "[::ffff:127.0.0.1]:5",
			headers: fwdHeaders("POST", "http", "[::1]:8080", "/%62ranches/1/products"),
			want:    Request{Method: "POST", Scheme: "http", Host: "[::1]:8080", Path: "/branches/1/products", URI: "/%62ranches/1/products"},
		},
		{
			name:    "ipv6 loopback peer",
			remote:  "[::1]:5",
			headers: fwdHeaders("GET", "http", "x", "/"),
			want:    Request{Method: "GET", Scheme: "http", Host: "x", Path: "/", URI: "/"},
		},
		{name: "spoofed headers from untrusted peer", remote: "203.0.113.7:4444", headers: fwdHeaders("GET", "https", "shop.example.com", "/products"), wantErr: ErrUntrustedPeer},
		{name: "unparsable peer", remote: "garbage", headers: fwdHeaders("GET", "https", "h", "/"), wantErr: ErrUntrustedPeer},
		{name: "missing method", remote: "127.0.0.1:1", headers: fwdHeaders("-", "https", "h", "/"), wantErr: ErrMalformed},
		{name: "missing proto", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "-", "h", "/"), wantErr: ErrMalformed},
		{name: "missing host", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "https", "-", "/"), wantErr: ErrMalformed},
		{name: "missing uri", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "https", "h", "-"), wantErr: ErrMalformed},
		{name: "empty uri", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "https", "h", ""), wantErr: ErrMalformed},
		{name: "bad proto", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "ftp", "h", "/"), wantErr: ErrMalformed},
		{name: "bad method", remote: "127.0.0.1:1", headers: fwdHeaders("GE T", "http", "h", "/"), wantErr: ErrMalformed},
		{name: "host with path", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "h/x", "/"), wantErr: ErrMalformed},
		{name: "host with userinfo", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "a@h", "/"), wantErr: ErrMalformed},
		{name: "host bad port", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "h:99999", "/"), wantErr: ErrMalformed},
		{name: "host empty port", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "h:", "/"), wantErr: ErrMalformed},
		{name: "host list", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "a.com, evil.com", "/"), wantErr: ErrMalformed},
		{name: "absolute-form uri", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "h", "http://evil/products"), wantErr: ErrMalformed},
		{name: "encoded slash in uri", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "h", "/products/..%2fbranches/1/products"), wantErr: ErrMalformed},
		{name: "backslash in uri", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "h", "/products\\..\\branches"), wantErr: ErrMalformed},
		{
			name:   "duplicate uri header",
			remote: "127.0.0.1:1",
			headers: map[string][]string{
				"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"h"},
				"X-Forwarded-Uri": {"/products", "/branches/1/products"},
			},
			wantErr: ErrMalformed,
		},
		{
			name:   "duplicate host header",
			remote: "127.0.0.1:1",
			headers: map[string][]string{
				"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil", "h"},
				"X-Forwarded-Uri": {"/"},
			},
			wantErr: ErrMalformed,
		},
		{
			name:   "duplicate method header",
			remote: "127.0.0.1:1",
			headers: map[string][]string{
				"X-Forwarded-Method": {"GET", "POST"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"h"},
				"X-Forwarded-Uri": {"/"},
			},
			wantErr: ErrMalformed,
		},
		{
			name:   "X-Forwarded-For and X-Real-Ip do not make a peer trusted",
			remote: "203.0.113.7:4444",
			headers: map[string][]string{
				"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"h"}, "X-Forwarded-Uri": {"/"},
				"X-Forwarded-For": {"127.0.0.1"}, "X-Real-Ip": {"127.0.0.1"}, "Forwarded": {"for=127.0.0.1"},
			},
			wantErr: ErrUntrustedPeer,
		},
		{
			name:   "X-Original-URL is not read by this dialect",
			remote: "127.0.0.1:1",
			headers: map[string][]string{
				"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"h"},
				"X-Forwarded-Uri": {"/branches/1/products"}, "X-Original-Url": {"https://h/products"},
			},
			want: Request{Method: "GET", Scheme: "https", Host: "h", Path: "/branches/1/products", URI: "/branches/1/products"},
		},
		{name: "request-target at the size limit", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "h", "/"+strings.Repeat("a", MaxURI-1)), want: Request{Method: "GET", Scheme: "http", Host: "h", Path: "/" + strings.Repeat("a", MaxURI-1), URI: "/" + strings.Repeat("a", MaxURI-1)}},
		{name: "request-target over the size limit", remote: "127.0.0.1:1", headers: fwdHeaders("GET", "http", "h", "/"+strings.Repeat("a", MaxURI)), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := p.Forwarded(newReq(tt.remote, tt.headers))
			checkResult(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestNoTrustedProxies(t *testing.T) {
	t.Parallel()
	p := NewParser(nil)
	_, err := p.Forwarded(newReq("127.0.0.1:1", fwdHeaders("GET", "http", "h", "/")))
	if !errors.Is(err, ErrUntrustedPeer) {
		t.Fatalf("err = %v; want ErrUntrustedPeer", err)
	}
}

func TestNginx(t *testing.T) {
	t.Parallel()
	p := NewParser(defaultTrusted)
	h := func(url, method string) map[string][]string {
		m := map[string][]string{}
		if url != "-" {
			m["X-Original-Url"] = []string{url}
		}
		if method != "-" {
			m["X-Original-Method"] = []string{method}
		}
		return m
	}
	tests := []struct {
		name    string
		remote  string
		headers map[string][]string
		want    Request
		wantErr error
	}{
		{
			name:    "ingress-nginx request",
			remote:  "127.0.0.1:1",
			headers: h("https://shop.example.com/branches/1/products?page=2", "GET"),
			want:    Request{Method: "GET", Scheme: "https", Host: "shop.example.com", Path: "/branches/1/products", URI: "/branches/1/products?page=2"},
		},
		{
			name:    "no path",
			remote:  "127.0.0.1:1",
			headers: h("http://localhost:8000", "get"),
			want:    Request{Method: "GET", Scheme: "http", Host: "localhost:8000", Path: "/", URI: "/"},
		},
		// ingress-nginx builds X-Original-URL as $scheme://$http_host$request_uri, and nginx
		// accepts '?', '#', '@' and '\\' in a client's Host: only the first '/' ends the
		// authority ($request_uri always starts with one), and an authority that is not
		// host[:port] is refused, never cut short.
		{name: "query without path is a Host with a '?'", remote: "127.0.0.1:1", headers: h("HTTP://localhost?x=1", "GET"), wantErr: ErrMalformed},
		{name: "host ending in '?' hides the path", remote: "127.0.0.1:1", headers: h("http://x?/branches/1/products", "GET"), wantErr: ErrMalformed},
		{name: "host ending in '#' hides the path", remote: "127.0.0.1:1", headers: h("http://x#/branches/1/products", "GET"), wantErr: ErrMalformed},
		{name: "host with '?' and port", remote: "127.0.0.1:1", headers: h("http://x:80?/branches/1/products", "GET"), wantErr: ErrMalformed},
		{name: "host with backslash", remote: "127.0.0.1:1", headers: h("http://x\\y/branches/1/products", "GET"), wantErr: ErrMalformed},
		{name: "host with '@' after '?'", remote: "127.0.0.1:1", headers: h("http://x?@y/branches/1/products", "GET"), wantErr: ErrMalformed},
		{
			name:    "fragment dropped",
			remote:  "127.0.0.1:1",
			headers: h("http://h/products#/../admin", "GET"),
			want:    Request{Method: "GET", Scheme: "http", Host: "h", Path: "/products", URI: "/products"},
		},
		{
			name:    "encoded dot segments normalised",
			remote:  "127.0.0.1:1",
			headers: h("http://h/products/%2e%2e/branches/1/products", "GET"),
			want:    Request{Method: "GET", Scheme: "http", Host: "h", Path: "/branches/1/products", URI: "/products/%2e%2e/branches/1/products"},
		},
		{name: "untrusted peer", remote: "192.0.2.1:1", headers: h("http://h/", "GET"), wantErr: ErrUntrustedPeer},
		{name: "missing method", remote: "127.0.0.1:1", headers: h("http://h/", "-"), wantErr: ErrMalformed},
		{name: "missing url", remote: "127.0.0.1:1", headers: h("-", "GET"), wantErr: ErrMalformed},
		{name: "relative url", remote: "127.0.0.1:1", headers: h("/products", "GET"), wantErr: ErrMalformed},
		{name: "scheme-relative url", remote: "127.0.0.1:1", headers: h("//h/products", "GET"), wantErr: ErrMalformed},
		{name: "javascript scheme", remote: "127.0.0.1:1", headers: h("javascript://h/x", "GET"), wantErr: ErrMalformed},
		{name: "userinfo", remote: "127.0.0.1:1", headers: h("http://user@evil/products", "GET"), wantErr: ErrMalformed},
		{name: "empty host", remote: "127.0.0.1:1", headers: h("http:///products", "GET"), wantErr: ErrMalformed},
		{name: "encoded slash", remote: "127.0.0.1:1", headers: h("http://h/products/..%2Fbranches/1/products", "GET"), wantErr: ErrMalformed},
		{
			name:    "duplicate url",
			remote:  "127.0.0.1:1",
			headers: map[string][]string{"X-Original-Url": {"http://h/products", "http://h/branches/1/products"}, "X-Original-Method": {"GET"}},
			wantErr: ErrMalformed,
		},
		{
			name:   "X-Forwarded-* are not read by this dialect",
			remote: "127.0.0.1:1",
			headers: map[string][]string{
				"X-Original-Url": {"http://h/branches/1/products"}, "X-Original-Method": {"GET"},
				"X-Forwarded-Uri": {"/products"}, "X-Forwarded-Host": {"evil"}, "X-Forwarded-Method": {"HEAD"},
			},
			want: Request{Method: "GET", Scheme: "http", Host: "h", Path: "/branches/1/products", URI: "/branches/1/products"},
		},
		{name: "url over the size limit", remote: "127.0.0.1:1", headers: h("http://h/"+strings.Repeat("a", MaxURI), "GET"), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := p.Nginx(newReq(tt.remote, tt.headers))
			checkResult(t, got, err, tt.want, tt.wantErr)
		})
	}
}

// TestOverHTTP drives all three dialects through a real HTTP server on
// 127.0.0.1, so RemoteAddr, Host and the raw request-target are what the
// net/http server really produces.
func TestOverHTTP(t *testing.T) {
	t.Parallel()
	type result struct {
		Req Request
		Err string
	}
	p := NewParser(defaultTrusted)
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, req Request, err error) {
		res := result{Req: req}
		if err != nil {
			res.Err = err.Error()
		}
		_ = json.NewEncoder(w).Encode(res)
	}
	mux.HandleFunc("/authz", func(w http.ResponseWriter, r *http.Request) { req, err := p.Forwarded(r); reply(w, req, err) })
	mux.HandleFunc("/authz/nginx", func(w http.ResponseWriter, r *http.Request) { req, err := p.Nginx(r); reply(w, req, err) })
	// Envoy paths are arbitrary, so no ServeMux cleaning: handle by prefix.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.RequestURI, "/authz/envoy") {
			req, err := p.Envoy(r, "/authz/envoy/")
			reply(w, req, err)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	untrusted := NewParser([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	srvUntrusted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := untrusted.Forwarded(r)
		reply(w, req, err)
	}))
	t.Cleanup(srvUntrusted.Close)

	tests := []struct {
		name    string
		base    string
		method  string
		target  string
		host    string
		headers map[string]string
		want    result
	}{
		{
			name: "forwarded", base: srv.URL, method: "GET", target: "/authz",
			headers: map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com", "X-Forwarded-Uri": "/products/../branches/1/products"},
			want:    result{Req: Request{Method: "GET", Scheme: "https", Host: "shop.example.com", Path: "/branches/1/products", URI: "/products/../branches/1/products"}},
		},
		{
			name: "forwarded from untrusted network", base: srvUntrusted.URL, method: "GET", target: "/authz",
			headers: map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com", "X-Forwarded-Uri": "/products"},
			want:    result{Err: ErrUntrustedPeer.Error()},
		},
		{
			name: "nginx", base: srv.URL, method: "GET", target: "/authz/nginx",
			headers: map[string]string{"X-Original-URL": "http://localhost:8000/%62ranches/1/products", "X-Original-Method": "GET"},
			want:    result{Req: Request{Method: "GET", Scheme: "http", Host: "localhost:8000", Path: "/branches/1/products", URI: "/%62ranches/1/products"}},
		},
		{
			name: "envoy", base: srv.URL, method: "DELETE", target: "/authz/envoy/products/%2e%2e/branches/1/products?x=%2F", host: "shop.example.com",
			headers: map[string]string{"X-Forwarded-Proto": "https"},
			want:    result{Req: Request{Method: "DELETE", Scheme: "https", Host: "shop.example.com", Path: "/branches/1/products", URI: "/products/%2e%2e/branches/1/products?x=%2F"}},
		},
		{
			name: "envoy encoded slash", base: srv.URL, method: "GET", target: "/authz/envoy/products/..%2fbranches/1/products", host: "h",
			want: result{Err: ErrMalformed.Error() + ": policy: normalize path: encoded slash: invalid path"},
		},
		{
			name: "envoy root", base: srv.URL, method: "GET", target: "/authz/envoy", host: "h:8080",
			want: result{Req: Request{Method: "GET", Scheme: "http", Host: "h:8080", Path: "/", URI: "/"}},
		},
		{
			name: "envoy prefix lookalike", base: srv.URL, method: "GET", target: "/authz/envoyX/products", host: "h",
			want: result{Err: ErrMalformed.Error() + ": path is not under the ext_authz prefix"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, tt.base, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tt.target // send the target byte for byte
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got result
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("result (-want +got):\n%s", d)
			}
		})
	}
}

func TestEnvoy(t *testing.T) {
	t.Parallel()
	p := NewParser(defaultTrusted)
	tests := []struct {
		name    string
		remote  string
		target  string
		host    string
		proto   []string
		want    Request
		wantErr error
	}{
		{name: "basic", remote: "127.0.0.1:1", target: "/authz/envoy/products?a=b", host: "H", want: Request{Method: "GET", Scheme: "http", Host: "h", Path: "/products", URI: "/products?a=b"}},
		{name: "query only", remote: "127.0.0.1:1", target: "/authz/envoy?a=b", host: "h", want: Request{Method: "GET", Scheme: "http", Host: "h", Path: "/", URI: "/?a=b"}},
		{name: "double slash after prefix", remote: "127.0.0.1:1", target: "/authz/envoy//branches/1/products", host: "h", want: Request{Method: "GET", Scheme: "http", Host: "h", Path: "/branches/1/products", URI: "//branches/1/products"}},
		{name: "untrusted", remote: "198.51.100.1:1", target: "/authz/envoy/products", host: "h", wantErr: ErrUntrustedPeer},
		{name: "bad proto", remote: "127.0.0.1:1", target: "/authz/envoy/products", host: "h", proto: []string{"gopher"}, wantErr: ErrMalformed},
		{name: "duplicate proto", remote: "127.0.0.1:1", target: "/authz/envoy/products", host: "h", proto: []string{"http", "https"}, wantErr: ErrMalformed},
		{name: "bad host", remote: "127.0.0.1:1", target: "/authz/envoy/products", host: "h h", wantErr: ErrMalformed},
		{name: "outside prefix", remote: "127.0.0.1:1", target: "/other/products", host: "h", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			r.RemoteAddr = tt.remote
			r.Host = tt.host
			for _, v := range tt.proto {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			got, err := p.Envoy(r, "/authz/envoy")
			checkResult(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkResult(t *testing.T, got Request, err error, want Request, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("err = %v; want %v", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("request (-want +got):\n%s", d)
	}
}

func checkFuzzResult(t *testing.T, req Request, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUntrustedPeer) {
			t.Fatalf("unexpected error class: %v", err)
		}
		return
	}
	again, nerr := policy.NormalizePath(req.Path)
	if nerr != nil || again != req.Path {
		t.Fatalf("path %q not normalised (%q, %v)", req.Path, again, nerr)
	}
	if req.Scheme != "http" && req.Scheme != "https" {
		t.Fatalf("scheme %q", req.Scheme)
	}
	if !strings.HasPrefix(req.URI, "/") || req.Host == "" || req.Method == "" {
		t.Fatalf("bad request %+v", req)
	}
}

func FuzzForwarded(f *testing.F) {
	f.Add("GET", "https", "shop.example.com", "/products/../branches/1/products")
	f.Add("post", "HTTP", "[::1]:80", "/%62ranches")
	f.Add("GET", "http", "h:0", "//x/%2e%2e")
	p := NewParser(defaultTrusted)
	f.Fuzz(func(t *testing.T, method, proto, host, uri string) {
		r := newReq("127.0.0.1:9", fwdHeaders(method, proto, host, uri))
		req, err := p.Forwarded(r)
		checkFuzzResult(t, req, err)
	})
}

func FuzzNginx(f *testing.F) {
	f.Add("https://shop.example.com/branches/1/products?x", "GET")
	f.Add("http://h", "get")
	f.Add("http://a@b/..%2f", "GET")
	f.Add("http://[::1]:99/a#b", "PUT")
	p := NewParser(defaultTrusted)
	f.Fuzz(func(t *testing.T, url, method string) {
		r := newReq("127.0.0.1:9", map[string][]string{"X-Original-Url": {url}, "X-Original-Method": {method}})
		req, err := p.Nginx(r)
		checkFuzzResult(t, req, err)
	})
}

func BenchmarkForwarded(b *testing.B) {
	p := NewParser(defaultTrusted)
	r := newReq("127.0.0.1:9", fwdHeaders("GET", "https", "shop.example.com", "/branches/1/products?page=2"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Forwarded(r); err != nil {
			b.Fatal(err)
		}
	}
}
