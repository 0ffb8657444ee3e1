package stack

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

func busyPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestPortsResolve(t *testing.T) {
	t.Parallel()
	busy := busyPort(t)
	tests := []struct {
		name    string
		ports   Ports
		wantErr []string // substrings; empty = success
		inUse   bool
	}{
		{name: "all free ports", ports: Ports{}},
		{name: "port in use names the part and the port", ports: Ports{Catalog: busy},
			wantErr: []string{"catalog port " + strconv.Itoa(busy), "127.0.0.1:" + strconv.Itoa(busy), "already in use"}, inUse: true},
		{name: "same port twice", ports: Ports{Gateway: 1, AuthProxy: 1}, wantErr: []string{"authproxy port 1: also given to gateway"}},
		{name: "out of range", ports: Ports{Redis: 70000}, wantErr: []string{"redis port 70000: out of range"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, held, err := tc.ports.resolve()
			closeAll(held)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				seen := map[int]bool{}
				for _, np := range got.named() {
					if *np.port <= 0 || seen[*np.port] {
						t.Errorf("%s: port %d is zero or shared", np.name, *np.port)
					}
					seen[*np.port] = true
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if got := errors.Is(err, ErrPortInUse); got != tc.inUse {
				t.Errorf("errors.Is(err, ErrPortInUse) = %v, want %v", got, tc.inUse)
			}
		})
	}
}

var testTargets = proxyTargets{Gateway: 18000, AuthProxies: []string{"127.0.0.1:14180", "127.0.0.1:14181"}, Catalog: "127.0.0.1:18081", Inventory: "127.0.0.1:18082"}

// TestCaddyfile checks that the Caddyfile adapts (embedded Caddy) and keeps the protections:
// identity headers removed first, forward_auth on both services, /authz not routed.
func TestCaddyfile(t *testing.T) {
	t.Parallel()
	for _, embedded := range []bool{true, false} {
		t.Run("embedded="+strconv.FormatBool(embedded), func(t *testing.T) {
			t.Parallel()
			src, err := caddyfile(testTargets, t.TempDir(), "ERROR", embedded)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": "Caddyfile"})
			if err != nil {
				t.Fatalf("adapt: %v\n%s", err, src)
			}
			js := string(cfg)
			for _, want := range []string{
				`"delete":["X-Auth-Request-User"]`, `"delete":["X-Auth-Request-Email"]`,
				`"uri":"/authz"`, `"dial":"127.0.0.1:18081"`, `"dial":"127.0.0.1:18082"`, `"listen":["127.0.0.1:18000"]`,
				// Production-ingress client limits (issue 11) and both authproxy replicas.
				`"read_header_timeout":10000000000`, `"read_timeout":30000000000`, `"write_timeout":60000000000`,
				`"idle_timeout":75000000000`, `"max_header_bytes":64000`, `"max_size":1048576`,
				`"dial":"127.0.0.1:14180"`, `"dial":"127.0.0.1:14181"`, `"try_duration":2000000000`,
			} {
				if !strings.Contains(js, want) {
					t.Errorf("adapted config lacks %s", want)
				}
			}
			if got := strings.Count(js, `"uri":"/authz"`); got != 2 {
				t.Errorf("forward_auth appears %d times, want 2 (catalog, inventory)", got)
			}
			if del, fa := strings.Index(js, `"delete":["X-Auth-Request-User"]`), strings.Index(js, `"uri":"/authz"`); del > fa {
				t.Error("identity headers are removed after forward_auth, not before")
			}
			if got := strings.Contains(string(src), "persist_config"); got != embedded {
				t.Errorf("persist_config present = %v, want %v (Debian's caddy 2.6 rejects it)", got, embedded)
			}
		})
	}
}

// TestCaddyfileDebianCaddy validates the binary's Caddyfile with the binary itself.
func TestCaddyfileDebianCaddy(t *testing.T) {
	t.Parallel()
	path, err := proxyBinary(Options{Proxy: ProxyCaddyBinary})
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	src, err := caddyfile(testTargets, dir, "WARN", false)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, src, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "validate", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy validate: %v\n%s\n%s", err, out, src)
	}
}

// TestNginxConfig checks the generated nginx.conf with `nginx -t` and that it keeps the
// protections.
func TestNginxConfig(t *testing.T) {
	t.Parallel()
	path, err := proxyBinary(Options{Proxy: ProxyNginx})
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	conf, err := writeNginxConfig(testTargets, dir, "warn")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(path, "-t", "-e", "stderr", "-p", dir, "-c", conf).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\n%s", err, out, src)
	}
	for _, want := range []string{
		"proxy_pass http://authproxy/authz/nginx;",
		"proxy_set_header X-Original-URL $scheme://$http_host$request_uri;",
		"proxy_set_header X-Original-Method $request_method;",
		"proxy_pass_request_body off;",
		"auth_request_set $gw_authorization $upstream_http_authorization;",
		"auth_request_set $gw_login_url_answer $upstream_http_x_auth_login_url;",
		"proxy_set_header Authorization $gw_authorization;",
		"proxy_set_header X-Auth-Request-User $gw_user;",
		"error_page 401 = @login;",
		"listen 127.0.0.1:18000;",
		// Production-ingress client limits (issue 11) and both authproxy replicas.
		"client_header_timeout 10000ms;", "client_body_timeout 30000ms;", "send_timeout 60000ms;",
		"keepalive_timeout 75000ms;", "client_max_body_size 1048576;",
		"server 127.0.0.1:14180 max_fails=1 fail_timeout=2s;", "server 127.0.0.1:14181 max_fails=1 fail_timeout=2s;",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	if got := strings.Count(string(src), "auth_request /_authz;"); got != 2 {
		t.Errorf("auth_request appears %d times, want 2 (catalog, inventory)", got)
	}
}

func TestLineWriter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := newLineWriter("redis", &out)
	for _, chunk := range []string{"one\ntw", "o\n", "three"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	w.flush()
	want := "redis     | one\nredis     | two\nredis     | three\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if got := w.tail(); got != "one\ntwo\nthree" {
		t.Errorf("tail %q", got)
	}
	for i := range 2 * tailLines {
		_, _ = w.Write([]byte(strconv.Itoa(i) + "\n"))
	}
	if got := strings.Count(w.tail(), "\n") + 1; got != tailLines {
		t.Errorf("tail keeps %d lines, want %d", got, tailLines)
	}
}
