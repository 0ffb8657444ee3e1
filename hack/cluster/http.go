package cluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"time"
)

// Transport returns an HTTP transport that reaches the cluster from the host: each dialled
// "host:port" is looked up in hosts (values are "ip:port" inside the namespace, e.g. a NodePort
// on the node's address or a Service's ClusterIP) and dialled inside the namespace. Any other
// address is refused, so a test cannot reach anything but the cluster by mistake.
func (c *Cluster) Transport(hosts map[string]string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			target, ok := hosts[addr]
			if !ok {
				return nil, fmt.Errorf("cluster transport: %s is not one of the cluster's addresses %v", addr, keys(hosts))
			}
			if c.Netns == nil { // an attached cluster: its addresses are the host's
				var d net.Dialer
				return d.DialContext(ctx, network, target)
			}
			return c.Netns.DialContext(ctx, network, target)
		},
		Proxy:                 nil,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// BrowserProxy serves an HTTP forward proxy on the host's 127.0.0.1 that sends every request
// through rt (a Transport from above), so a browser on the host (Chromium with --proxy-server)
// sees the cluster's names. It returns the proxy's URL; the server stops with ctx.
func BrowserProxy(ctx context.Context, rt http.RoundTripper) (string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	rp := &httputil.ReverseProxy{
		// A proxy request carries the absolute URL; forward it as it is.
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.URL = pr.In.URL; pr.Out.Host = pr.In.Host },
		Transport: rt,
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), nil
}
