package stack

import (
	"strconv"
	"time"
)

// GatewayTimeouts are the front proxy's client-side limits. The zero value of each field takes
// the production-ingress default below.
type GatewayTimeouts struct {
	// ReadHeader bounds the request line and headers (Caddy read_header, nginx
	// client_header_timeout: both a total for the headers).
	ReadHeader time.Duration
	// ReadBody bounds the body: Caddy read_body is a total for the whole request; nginx
	// client_body_timeout is the longest pause between two reads.
	ReadBody time.Duration
	// Write bounds sending the response (Caddy write, nginx send_timeout).
	Write time.Duration
	// Idle is how long a keep-alive connection may wait for its next request.
	Idle time.Duration
}

// Production-ingress defaults: Traefik's entry points read for at most 60s and keep idle
// connections 180s; ingress-nginx waits 60s for headers and between body reads and keeps
// idle connections 75s. The local gateways are tighter, which no legitimate client of this
// API notices.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadBodyTimeout   = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 75 * time.Second
	// MaxBodyBytes is the largest request body the gateways accept (ingress-nginx: 1m).
	MaxBodyBytes = 1 << 20
)

func (g GatewayTimeouts) withDefaults() GatewayTimeouts {
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&g.ReadHeader, DefaultReadHeaderTimeout}, {&g.ReadBody, DefaultReadBodyTimeout}, {&g.Write, DefaultWriteTimeout}, {&g.Idle, DefaultIdleTimeout}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	return g
}

// nginxTimeouts are GatewayTimeouts written in nginx's syntax (milliseconds).
type nginxTimeouts struct{ ReadHeader, ReadBody, Write, Idle string }

func (g GatewayTimeouts) nginx() nginxTimeouts {
	ms := func(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) + "ms" }
	return nginxTimeouts{ReadHeader: ms(g.ReadHeader), ReadBody: ms(g.ReadBody), Write: ms(g.Write), Idle: ms(g.Idle)}
}
