// Package server is authproxy's HTTP surface: the forward-auth decision
// endpoints for each proxy dialect (/authz, /authz/nginx, /authz/envoy/...),
// the login flow (/oauth2/start, /oauth2/callback, /oauth2/logout,
// /oauth2/userinfo), the gateway's public keys (/.well-known/jwks.json),
// probes and metrics, and the small gateway page at /.
//
// Handlers return errors; writeError (errors.go) is the one place that maps
// them to HTTP. Every decision is logged as one line with rule, subject,
// outcome and request id, and never with a token, cookie or code.
//
// The server takes the session store, the login-state store and the
// identity provider as interfaces (Deps): package app builds them on Redis
// and the IdP for main, and the tests give it in-memory ones. The refresh
// of access tokens is refresh.go's.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/shared/httpkit"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
	"github.com/gatewarden/gatewarden/services/shared/tracing"
)

// HeaderLoginURL carries the login URL on /authz/nginx's 401 answers (nginx
// cannot pass a redirect from auth_request; ingress-nginx's auth-signin
// annotation does the redirect on its side).
const HeaderLoginURL = "X-Auth-Login-URL"

// Headers set on allowed decisions when pass-user-headers is on.
const (
	HeaderUser  = "X-Auth-Request-User"
	HeaderEmail = "X-Auth-Request-Email"
)

// Log attribute keys.
const (
	keyRequestID = "request_id"
	keyRule      = "rule"
	keySubject   = "subject"
	keyOutcome   = "outcome"
	keyDialect   = "dialect"
	keyMethod    = "method"
	keyHost      = "host"
	keyPath      = "path"
	keyError     = "error"
	keyDuration  = "duration"
	keyPeer      = "peer"
	// refresh-window clamp
	keyRefreshWindow = "refresh_window"
	keyTokenLifetime = "access_token_lifetime"
	keyClampedTo     = "clamped_to"
)

const (
	stateTTL = 10 * time.Minute
	lockTTL  = 10 * time.Second
	lockWait = 15 * time.Second
	// refreshGrace bounds how long a decision waits for a refresh while the
	// session's current access token is still valid.
	refreshGrace    = time.Second
	pathForwarded   = "/authz"       // Traefik, Caddy
	pathNginx       = "/authz/nginx" // nginx, ingress-nginx
	envoyPrefix     = "/authz/envoy"
	callbackPath    = "/oauth2/callback"
	startPath       = "/oauth2/start"
	maxRedirectSize = 2048
)

// Deps are the server's collaborators: the configuration and the
// interfaces it works through. main builds them from Redis and the IdP
// (package app); the server's tests give it in-memory ones. Config, Store,
// States, Provider and Ping are required.
type Deps struct {
	Config *config.Config
	// Store holds the sessions; decisions read through it (in production
	// the Redis store behind its in-process cache).
	Store session.Store
	// Fresh is the same store read past any cache: the refresh re-reads a
	// session under its lock, and logout reads the id_token. nil = Store.
	Fresh session.Store
	// States spends login states, so that each callback works once.
	States session.StateStore
	// Provider is the identity provider.
	Provider Provider
	// Ping reports whether the session store answers (/readyz).
	Ping func(context.Context) error
	// CircuitOpen reports whether the session store is known to be down
	// and its commands fail fast (the session_store_circuit_open gauge);
	// nil = never.
	CircuitOpen func() bool
	// Webhook, when set, is served at /webhooks/fusionauth (any method:
	// it answers its own 405).
	Webhook http.Handler
	// Revocations, when set, is served as the revocation feed at FeedPath
	// (feed.go).
	Revocations Revocations
	// BackChannel, when set, is served at backchannel.Path.
	BackChannel http.Handler
	// Links, when set, records which session holds each refresh token and
	// provider session id (links.go).
	Links Links
	// Logger receives JSON logs; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// Tracer starts the decision and minting spans; nil = no spans (and
	// nothing allocated for them).
	Tracer trace.Tracer
}

// Provider is the OpenID Connect provider as the server uses it;
// *oidc.Provider implements it.
type Provider interface {
	// Ready returns nil once discovery has loaded and the keys are known.
	Ready() error
	// AuthCodeURL is the provider URL that starts a login (code flow with
	// PKCE S256 from pkceVerifier, state and nonce).
	AuthCodeURL(state, nonce, pkceVerifier string) (string, error)
	// Exchange redeems a login's code and returns the verified tokens and
	// user.
	Exchange(ctx context.Context, code, pkceVerifier, nonce string) (*oidc.Tokens, *oidc.User, error)
	// Refresh redeems a refresh token (errors as oidc.Provider.Refresh).
	Refresh(ctx context.Context, refreshToken string) (*oidc.Tokens, error)
	// VerifyAccessToken verifies a bearer token as an access token for this
	// application and returns its claims and user.
	VerifyAccessToken(ctx context.Context, raw string) (*jwtauth.Claims, *oidc.User, error)
	// LogoutURL is the provider's end-session URL for an RP-initiated
	// logout; false when the provider has none.
	LogoutURL(idTokenHint, postLogoutRedirect string) (string, bool)
	// RevokeRefreshToken revokes a refresh token at the provider; false
	// when the provider offers no way to.
	RevokeRefreshToken(ctx context.Context, token string) (bool, error)
}

var _ Provider = (*oidc.Provider)(nil)

// Server answers authproxy's endpoints. Build it with New.
type Server struct {
	tracer   trace.Tracer // nil: tracing off
	cfg      *config.Config
	log      *slog.Logger
	now      func() time.Time
	store    session.Store // cached in production
	fresh    session.Store // past any cache
	states   session.StateStore
	provider Provider
	ping     func(context.Context) error
	tokens   *tokens
	parser   *forward.Parser
	metrics  *metrics
	// rules are the route rules in force, swapped by a reload (rules.go).
	rules liveRules
	// revoked is authproxy's copy of the revocation feed, against which
	// bearer access tokens are checked (nil without Deps.Revocations).
	revoked *jwtauth.RevocationFollower
	// refresher renews access tokens before they expire (refresh.go).
	refresher *refresher
	cookie    cookieSpec
	public    *url.URL
	origin    string          // scheme://host of the public URL
	webhook   http.Handler    // nil = not served
	backchan  http.Handler    // nil = not served
	feed      *revocationFeed // nil = not served
	// idpRevokes counts logout's refresh-token revocations (revoke.go).
	idpRevokes *prometheus.CounterVec
	linker     linker
	handler    http.Handler
	// allowLines bounds the allow lines per second (--decision-log-rate); nil = all.
	allowLines *lineBudget
}

// New builds the server from d. It starts no background work: what d's
// collaborators run (discovery, cache invalidation) their builder stops.
func New(d Deps) (*Server, error) {
	cfg := d.Config
	if cfg == nil || d.Store == nil || d.States == nil || d.Provider == nil || d.Ping == nil {
		return nil, errors.New("server: new: config, session store, state store, provider and ping are required")
	}
	if cfg.Rules == nil {
		return nil, errors.New("server: new: config has no rules")
	}
	if d.Fresh == nil {
		d.Fresh = d.Store
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	public, err := publicURL(cfg)
	if err != nil {
		return nil, fmt.Errorf("server: new: %w", err)
	}
	s := &Server{
		cfg: cfg, log: d.Logger, now: d.Now,
		store: d.Store, fresh: d.Fresh, states: d.States, provider: d.Provider, ping: d.Ping,
		webhook: d.Webhook, backchan: d.BackChannel,
		linker:  linker{links: d.Links, log: d.Logger},
		metrics: newMetrics(ruleNames(cfg.Rules.All())),
		public:  public,
		origin:  public.Scheme + "://" + public.Host,

		allowLines: newLineBudget(cfg.DecisionLogRate),
	}
	s.rules.init(cfg.Rules)
	if d.Revocations != nil {
		s.feed = &revocationFeed{src: d.Revocations}
		s.revoked = jwtauth.NewRevocationFollower(s.feed, jwtauth.DefaultRevocationInterval, jwtauth.DefaultRevocationMaxStale, d.Now, d.Logger)
	}
	s.idpRevokes = newIdPRevokes(s.metrics.reg)
	if s.cookie, err = newCookieSpec(cfg); err != nil {
		return nil, fmt.Errorf("server: new: %w", err)
	}
	circuitOpen := d.CircuitOpen
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "authproxy", Name: "session_store_circuit_open",
		Help: "1 while the session store is known to be down and commands fail fast.",
	}, func() float64 {
		if circuitOpen != nil && circuitOpen() {
			return 1
		}
		return 0
	}))
	s.refresher = &refresher{
		store: s.store, fresh: s.fresh, provider: s.provider, metrics: s.metrics,
		log: d.Logger, now: d.Now, window: cfg.RefreshWindow, linker: s.linker,
		lifetimes: newLifetimeWatch(cfg.RevocationRetention, d.Logger),
	}
	s.registerRevocationMetrics(s.refresher.lifetimes)
	s.tokens, err = newTokens(cfg, d.Now)
	s.tracer = d.Tracer
	if err != nil {
		return nil, fmt.Errorf("server: new: %w", err)
	}
	s.parser = forward.NewParser(cfg.TrustedProxies)
	s.handler = s.routes()
	return s, nil
}

// publicURL is cfg's public URL without a trailing slash.
func publicURL(cfg *config.Config) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("public url: %w", err)
	}
	return u, nil
}

// OIDCConfig is the provider configuration cfg asks for, with the server's
// callback as the redirect URL; the caller adds the HTTP client, logger and
// clock.
func OIDCConfig(cfg *config.Config) (oidc.Config, error) {
	public, err := publicURL(cfg)
	if err != nil {
		return oidc.Config{}, fmt.Errorf("server: oidc config: %w", err)
	}
	return oidc.Config{
		URL: cfg.FusionAuthURL, Issuer: cfg.OIDCIssuer,
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret.Reveal(),
		RedirectURL: public.Scheme + "://" + public.Host + public.Path + callbackPath,
		Scopes:      cfg.OIDCScopes, RolesClaim: cfg.RolesClaim,
		OpaqueAccessTokens: cfg.AccessTokenFormat == config.AccessTokenOpaque,
		LogoutAPI:          cfg.IdPLogoutAPI,
	}, nil
}

func ruleNames(rules []policy.Rule) []string {
	names := make([]string, len(rules))
	for i := range rules {
		names[i] = rules[i].Name
	}
	return names
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Ready reports whether the session store answers and discovery has
// loaded.
func (s *Server) Ready(ctx context.Context) error {
	var errs []error
	if err := s.ping(ctx); err != nil {
		errs = append(errs, fmt.Errorf("session store: %w", err))
	}
	if err := s.provider.Ready(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	health := httpkit.Health(s.Ready)
	mux.Handle("GET /healthz", health.Healthz)
	mux.Handle("GET /readyz", health.Readyz)
	mux.Handle("GET /metrics", httpkit.MetricsHandler(s.metrics.reg))
	mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)

	// Forward-auth endpoints accept any method: Caddy and Envoy send the
	// original method.
	forwarded, nginx := s.decisionHandler(dialectForwarded), s.decisionHandler(dialectNginx)
	mux.Handle(pathForwarded, forwarded)
	mux.Handle(pathNginx, nginx)

	mux.Handle(startPath, s.only(http.MethodGet, s.start))
	mux.Handle(callbackPath, s.only(http.MethodGet, s.callbackPage))
	mux.Handle("/oauth2/logout", s.only(http.MethodPost, s.logout))
	mux.Handle(logoutEverywherePath, s.only(http.MethodPost, s.logoutEverywhere))
	mux.Handle("/oauth2/userinfo", s.only(http.MethodGet, s.userinfo))
	if s.cfg.WebhookListen == "" {
		s.idpRoutes(mux)
	}
	if s.feed != nil {
		mux.Handle(FeedPath, s.only(http.MethodGet, s.feed.serve))
	}
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeError(w, ErrNotFound, "") })
	envoy := s.decisionHandler(dialectEnvoy)
	routed, named := http.Handler(mux), false
	if s.tracer != nil {
		routed, named = tracing.NameRoute(mux), true // the server span takes the route's name
	}
	// Envoy appends the original path, dot segments and all, so its requests
	// must not reach ServeMux, which would redirect them to a cleaned path.
	// The two decision paths are also served before ServeMux, which would
	// route them to the same handlers: matching its patterns costs a tenth
	// of a cached decision.
	direct := func(w http.ResponseWriter, r *http.Request, route string, h http.Handler) {
		if named {
			tracing.SetRoute(r.Context(), r.Method, route)
		}
		h.ServeHTTP(w, r)
	}
	return s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		switch {
		case p == pathForwarded:
			direct(w, r, pathForwarded, forwarded)
		case p == pathNginx:
			direct(w, r, pathNginx, nginx)
		case p == envoyPrefix || strings.HasPrefix(p, envoyPrefix+"/"):
			direct(w, r, envoyPrefix, envoy)
		default:
			routed.ServeHTTP(w, r)
		}
	}))
}

// guard gives every request an id (httpkit.RequestID) and turns a panic
// into the fixed 500 JSON answer and one log line with the stack
// (httpkit.Recover; the panic's value is not logged).
func (s *Server) guard(h http.Handler) http.Handler {
	return httpkit.RequestID(httpkit.Recover(s.log, func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, errInternal, "")
	})(h))
}

// only restricts a handler to one method (HEAD too for GET) and maps the
// handler's error.
func (s *Server) only(method string, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && (method != http.MethodGet || r.Method != http.MethodHead) {
			w.Header().Set("Allow", method)
			writeError(w, ErrMethod, "")
			return
		}
		if err := h(w, r); err != nil {
			if kind := classify(err); kind == kindInternal || kind == kindUnavailable {
				s.log.ErrorContext(r.Context(), "request failed", slog.String(keyPath, r.URL.Path), slog.String(keyError, err.Error()))
			} else {
				s.log.InfoContext(r.Context(), "request refused", slog.String(keyPath, r.URL.Path), slog.String(keyError, err.Error()))
			}
			writeError(w, err, "")
		}
	})
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.tokens.jwks())
}
