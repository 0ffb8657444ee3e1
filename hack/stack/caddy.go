package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/template"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile" // registers the caddyfile adapter
	_ "github.com/caddyserver/caddy/v2/modules/standard"      // http server, reverse_proxy, forward_auth, headers
)

// identityHeaders are request headers only authproxy may set: the front proxy removes any that
// the client sent before asking authproxy and before proxying upstream. Authorization is not in
// the list because authproxy needs the client's bearer token; on allow, authproxy always answers
// with an Authorization header, which replaces the client's.
var identityHeaders = []string{"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Preferred-Username"}

// copiedHeaders are the headers of authproxy's allow answer copied onto the upstream request.
var copiedHeaders = []string{"Authorization", "X-Auth-Request-User", "X-Auth-Request-Email"}

// caddyfileTemplate is used for both the embedded Caddy and Debian's caddy binary (2.6), so it
// sticks to directives both understand. `route` keeps the directives in the written order
// (the Caddyfile's default order would run request_header after forward_auth).
var caddyfileTemplate = template.Must(template.New("Caddyfile").Parse(`{
	admin off
	auto_https off
{{- if .Embedded}}
	persist_config off
{{- end}}
	storage file_system {
		root {{.StorageDir}}
	}
	log {
		output stderr
		level {{.LogLevel}}
	}
	# Production-ingress limits (Traefik's and ingress-nginx's defaults are of this order): a
	# client gets read_header for its request line and headers and read_body for the whole
	# request, so a slowloris or a client trickling an announced body is cut off.
	servers {
		timeouts {
			read_header {{.Timeouts.ReadHeader}}
			read_body {{.Timeouts.ReadBody}}
			write {{.Timeouts.Write}}
			idle {{.Timeouts.Idle}}
		}
		max_header_size 64KB
	}
}

http://:{{.Gateway}} {
	bind 127.0.0.1
	# Caddy 2.6 (Debian) copies a header authproxy did not send as the literal placeholder text;
	# these match such leftovers so they can be dropped.
{{- range $i, $h := .CopiedHeaders}}
	@leftover{{$i}} header_regexp {{$h}} ^\{http\.
{{- end}}
	route {
		request_body {
			max_size {{.MaxBodyBytes}}
		}
		# Identity headers come from authproxy's answer only.
{{- range .IdentityHeaders}}
		request_header -{{.}}
{{- end}}

		handle /products* {
			forward_auth{{range .AuthProxies}} {{.}}{{end}} {
				uri /authz
				copy_headers{{range .CopiedHeaders}} {{.}}{{end}}
{{- template "lb" $}}
			}
{{- range $i, $h := .CopiedHeaders}}
			request_header @leftover{{$i}} -{{$h}}
{{- end}}
			reverse_proxy {{.Catalog}}
		}
		handle /branches* {
			forward_auth{{range .AuthProxies}} {{.}}{{end}} {
				uri /authz
				copy_headers{{range .CopiedHeaders}} {{.}}{{end}}
{{- template "lb" $}}
			}
{{- range $i, $h := .CopiedHeaders}}
			request_header @leftover{{$i}} -{{$h}}
{{- end}}
			reverse_proxy {{.Inventory}}
		}
		# authproxy's public endpoints: login, callback, logout, userinfo, JWKS, the gateway page.
		# /authz and /metrics stay internal.
		handle /oauth2/* {
			reverse_proxy{{range .AuthProxies}} {{.}}{{end}} {
{{- template "lb" $}}
			}
		}
		handle /.well-known/* {
			reverse_proxy{{range .AuthProxies}} {{.}}{{end}} {
{{- template "lb" $}}
			}
		}
		handle / {
			reverse_proxy{{range .AuthProxies}} {{.}}{{end}} {
{{- template "lb" $}}
			}
		}
		handle {
			header Content-Type application/json
			respond "{\"error\":\"not_found\"}" 404
		}
	}
}
`))

// caddyLB spreads the authproxy replicas round robin; a replica that refuses a connection is
// skipped for fail_duration and the request is retried on another within lb_try_duration.
var _ = template.Must(caddyfileTemplate.New("lb").Parse(`
{{- if gt (len .AuthProxies) 1}}
				lb_policy round_robin
				lb_try_duration 2s
				fail_duration 2s
{{- end}}`))

// proxyTargets are the upstream addresses a front proxy sends to (host:port).
type proxyTargets struct {
	Gateway     int
	AuthProxies []string // one per replica
	Catalog     string
	Inventory   string
	Timeouts    GatewayTimeouts
}

// caddyfile renders the front proxy's Caddyfile. embedded adds what Debian's caddy 2.6 does not
// know (persist_config off: caddy.Load would otherwise autosave the config under ~/.config).
func caddyfile(t proxyTargets, storageDir, logLevel string, embedded bool) ([]byte, error) {
	var b bytes.Buffer
	err := caddyfileTemplate.Execute(&b, map[string]any{
		"Gateway": t.Gateway, "AuthProxies": t.AuthProxies, "Catalog": t.Catalog, "Inventory": t.Inventory,
		"Timeouts": t.Timeouts.withDefaults(), "MaxBodyBytes": MaxBodyBytes,
		"StorageDir": storageDir, "LogLevel": logLevel, "Embedded": embedded,
		"IdentityHeaders": identityHeaders, "CopiedHeaders": copiedHeaders,
	})
	if err != nil {
		return nil, fmt.Errorf("stack: caddyfile: %w", err)
	}
	return b.Bytes(), nil
}

// embeddedCaddy is held while this process runs an embedded Caddy: Caddy keeps its running
// configuration in process-global state, so only one embedded Caddy can run per process.
// Start waits for it (bounded by its context) rather than replacing another stack's proxy.
var embeddedCaddy = make(chan struct{}, 1)

// embedded is a running in-process Caddy.
type embedded struct{}

func startEmbeddedCaddy(ctx context.Context, t proxyTargets, dir string, out io.Writer) (*embedded, error) {
	select {
	case embeddedCaddy <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("stack: wait for the embedded caddy of another stack in this process: %w", ctx.Err())
	}
	release := func() { <-embeddedCaddy }
	storage := filepath.Join(dir, "caddy")
	if err := os.MkdirAll(storage, 0o700); err != nil {
		release()
		return nil, fmt.Errorf("stack: caddy: %w", err)
	}
	src, err := caddyfile(t, storage, "ERROR", true)
	if err != nil {
		release()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), src, 0o600); err != nil {
		release()
		return nil, fmt.Errorf("stack: caddy: %w", err)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	cfg, warnings, err := adapter.Adapt(src, map[string]any{"filename": "Caddyfile"})
	if err != nil {
		release()
		return nil, fmt.Errorf("stack: caddy: adapt Caddyfile: %w", err)
	}
	if out == nil {
		out = io.Discard
	}
	for _, w := range warnings {
		// Formatting hints only; a real problem is an error above.
		fmt.Fprintf(out, "caddy     | adapter warning: %s:%d: %s\n", w.File, w.Line, w.Message)
	}
	if err := caddy.Load(cfg, true); err != nil {
		release()
		return nil, fmt.Errorf("stack: caddy: load: %w", err)
	}
	return &embedded{}, nil
}

func (e *embedded) close() error {
	defer func() { <-embeddedCaddy }()
	if err := caddy.Stop(); err != nil {
		return fmt.Errorf("stack: caddy: stop: %w", err)
	}
	return nil
}
