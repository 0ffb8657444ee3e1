package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// procs is every process of the bench but redis-server and the load
// generator (which measure counts on its own).
func (st *stack) procs() []proc {
	ps := []proc{self{}, st.cached, st.quiet, st.uncached}
	if st.spread != nil {
		ps = append(ps, st.spread)
	}
	if st.peer != nil {
		ps = append(ps, st.peer)
	}
	if st.front != nil {
		ps = append(ps, st.front)
	}
	return ps
}

// scenarios are the rows, in the order each round runs them.
func (st *stack) scenarios() []scenario {
	cookie := st.cookieName + "=" + st.cookie
	withHeaders := func(uri string, extra ...string) map[string]string {
		h := forwardHeaders(uri)
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	gatewayToken := func(resp *http.Response) error {
		if !strings.HasPrefix(resp.Header.Get("Authorization"), "Bearer ") {
			return errors.New("no Authorization: Bearer on the answer")
		}
		return nil
	}
	sessionHeaders := withHeaders("/admin/users", "Cookie", cookie)
	sc := []scenario{
		{name: "bare", what: "net/http handler answering 200 (in this process)", url: st.bare.url + "/", procs: []proc{self{}}},
		{name: "bare-decision", what: "net/http handler (in this process) fed authz-session-cached's request headers and answering authproxy's allow headers with values of the same lengths: " + st.answer.describe(),
			url: st.bareDecision.url + "/authz", headers: sessionHeaders, check: gatewayToken, procs: []proc{self{}}, ref: "bare"},
		{name: "bare-redis-get", what: "same handler plus one Redis GET of a value the size of the sealed session record (authproxy's client options)",
			url: st.bareRedis.url + "/", procs: []proc{self{}}, ref: "bare"},
		{name: "authz-public", what: "/authz, public rule, no credential (anonymous gateway JWT, token cache)",
			url: st.cached.url + "/authz", headers: withHeaders("/products?page=1"), check: gatewayToken, procs: []proc{st.cached}, ref: "bare"},
		{name: "authz-session-cached", what: "/authz, role rule, one session cookie, session cache on (1 s, default), default logging (info: one line per decision)",
			url: st.cached.url + "/authz", headers: sessionHeaders, check: gatewayToken, procs: []proc{st.cached}, ref: "bare"},
		{name: "authz-session-cached-warn", what: "the same on an authproxy with --log-level warn (no decision lines)",
			url: st.quiet.url + "/authz", headers: sessionHeaders, check: gatewayToken, procs: []proc{st.quiet}, ref: "bare"},
		{name: "authz-session-redis", what: "/authz, role rule, one session cookie, session-cache-ttl 0 (one Redis GET, decrypt and decode per decision)",
			url: st.uncached.url + "/authz", headers: sessionHeaders, check: gatewayToken, procs: []proc{st.uncached}, ref: "bare-redis-get"},
	}
	if len(st.cookies) > 0 {
		sc = append(sc, scenario{name: "authz-session-random", what: fmt.Sprintf("as authz-session-cached, on an authproxy of its own (its cache and RSS apart) configured for its set: "+
			"--session-cache-ttl 60s --session-cache-entries %[1]d --token-cache-entries %[1]d (sessions + 10%%); before each measured run every seeded cookie is sent once (not counted), "+
			"then the session cookie is picked at random per request among the %[2]d seeded sessions (wrk Lua script indexing requests formatted once in init)", st.spreadEntries, len(st.cookies)),
			url: st.spread.url + "/authz", headers: withHeaders("/admin/users"), random: true, check: gatewayToken, procs: []proc{st.spread}, ref: "authz-session-cached"})
	}
	sc = append(sc, scenario{name: "authz-bearer", what: "/authz, authenticated rule, FusionAuth access token as Bearer (verified-token cache)",
		url: st.cached.url + "/authz", headers: withHeaders("/account/me", "Authorization", "Bearer "+st.accessTok), check: gatewayToken, procs: []proc{st.cached}, ref: "bare"})
	if st.peer != nil {
		sc = append(sc, scenario{name: "oauth2-proxy-auth", what: "oauth2-proxy " + oauth2ProxyVersion + " /oauth2/auth, one session cookie, Redis session store, default logging",
			url: st.peer.url + "/oauth2/auth", headers: withHeaders("/admin/users", "Cookie", oauth2ProxyCookie+"="+st.peerCookie),
			procs: []proc{st.peer}, ref: "authz-session-cached"})
	}
	if st.front != nil {
		sc = append(sc,
			scenario{name: "nginx-alone", what: "nginx -> bare handler (keep-alive upstream)", url: st.front.alone + "/admin/users",
				procs: []proc{st.front, self{}}, ref: "bare"},
			scenario{name: "nginx-authproxy", what: "nginx auth_request -> authproxy /authz/nginx (ingress-nginx with auth-keepalive), then -> bare handler",
				url: st.front.withAuthproxy + "/admin/users", headers: map[string]string{"Cookie": cookie, "Accept": "application/json"},
				procs: []proc{st.cached, st.front, self{}}, ref: "nginx-alone"})
		if st.front.withOAuth2 != "" {
			sc = append(sc, scenario{name: "nginx-oauth2-proxy", what: "nginx auth_request -> oauth2-proxy /oauth2/auth (keep-alive), then -> bare handler",
				url: st.front.withOAuth2 + "/admin/users", headers: map[string]string{"Cookie": oauth2ProxyCookie + "=" + st.peerCookie, "Accept": "application/json"},
				procs: []proc{st.peer, st.front, self{}}, ref: "nginx-alone"})
		}
	}
	sc = append(sc, scenario{name: "authz-session-cached-fixed", what: "authz-session-cached at a fixed rate of half its req/s in the same round " +
		"(the lean fixed-rate generator on raw keep-alive connections, wrk2-style: a request due while its connection waited for an answer counts from its scheduled time)",
		url: st.cached.url + "/authz", headers: sessionHeaders, check: gatewayToken, procs: []proc{st.cached}, halfOf: "authz-session-cached"},
		scenario{name: "bare-decision-fixed", what: "bare-decision at the same fixed rate (half authz-session-cached's req/s in the same round): the latency a net/http server answering a decision's bytes reaches at that rate on this machine",
			url: st.bareDecision.url + "/authz", headers: sessionHeaders, check: gatewayToken, procs: []proc{self{}}, halfOf: "authz-session-cached"})
	return sc
}
