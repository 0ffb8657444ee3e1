package faults

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gatewarden/gatewarden/hack/stack"
)

// links are Shopify toxiproxy proxies (used as a library, no toxiproxy server process) in
// front of the stack's links: authproxy -> Redis, everyone -> the IdP, the services -> the
// JWKS. Each listens on 127.0.0.1 on a free port.
type links struct {
	srv *toxiproxy.ApiServer

	mu      sync.Mutex
	proxies map[stack.Link]*toxiproxy.Proxy
}

func newLinks() *links {
	return &links{
		srv:     toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop()),
		proxies: map[stack.Link]*toxiproxy.Proxy{},
	}
}

// intercept is stack.Options.Intercept: it starts a proxy to target and returns its address.
func (l *links) intercept(link stack.Link, target string) (string, error) {
	name := strings.NewReplacer(">", "", "*", "all").Replace(string(link))
	p := toxiproxy.NewProxy(l.srv, name, "127.0.0.1:0", target)
	if err := p.Start(); err != nil {
		return "", fmt.Errorf("faults: proxy %s: %w", link, err)
	}
	l.mu.Lock()
	l.proxies[link] = p
	l.mu.Unlock()
	return p.Listen, nil
}

func (l *links) get(link stack.Link) (*toxiproxy.Proxy, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.proxies[link]
	if !ok {
		return nil, fmt.Errorf("faults: no proxy for %s", link)
	}
	return p, nil
}

// down closes the link: its listener and every connection through it (new connections are
// refused).
func (l *links) down(link stack.Link) error {
	p, err := l.get(link)
	if err != nil {
		return err
	}
	p.Stop()
	return nil
}

// up opens the link again on the same address.
func (l *links) up(link stack.Link) error {
	p, err := l.get(link)
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return fmt.Errorf("faults: reopen %s: %w", link, err)
	}
	return nil
}

// toxic adds a toxic in toxiproxy's JSON form, e.g.
// {"name":"lat","type":"latency","stream":"downstream","attributes":{"latency":300}}.
func (l *links) toxic(link stack.Link, js string) error {
	p, err := l.get(link)
	if err != nil {
		return err
	}
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
		return fmt.Errorf("faults: toxic on %s: %w", link, err)
	}
	return nil
}

// clear removes every toxic of the link.
func (l *links) clear(ctx context.Context, link stack.Link) error {
	p, err := l.get(link)
	if err != nil {
		return err
	}
	p.Toxics.ResetToxics(ctx)
	return nil
}

func (l *links) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.proxies {
		p.Stop()
	}
}
