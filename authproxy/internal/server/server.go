// Package server is authproxy's HTTP surface: the forward-auth decision
// endpoints for each proxy dialect (/authz, /authz/nginx, /authz/envoy/...),
// the login flow (/oauth2/start, /oauth2/callback, /oauth2/logout,
// /oauth2/userinfo), the gateway's public keys (/.well-known/jwks.json),
// probes and metrics, and the small gateway page at /.
//
// Handlers return errors; writeError (errors.go) is the one place that maps
// them to HTTP. Every decision is logged as one line with rule, subject,
// outcome and request id, and never with a token, cookie or code.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/forward"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/policy"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/httpkit"
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
	tokenCacheSize  = 10000
	envoyPrefix     = "/authz/envoy"
	callbackPath    = "/oauth2/callback"
	startPath       = "/oauth2/start"
	maxRedirectSize = 2048
)

// Deps are the server's collaborators. Config and Redis are required.
type Deps struct {
	Config *config.Config
	Redis  redis.UniversalClient
	// Logger receives JSON logs; nil discards.
	Logger *slog.Logger
	// HTTPClient talks to FusionAuth; nil = 10 s timeout client.
	HTTPClient *http.Client
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Server answers authproxy's endpoints. Build it with New; Close it.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	now      func() time.Time
	rdb      redis.UniversalClient
	store    session.Store       // cached when session-cache-ttl > 0
	fresh    *session.RedisStore // uncached: re-reads after taking the lock
	cached   *session.Cached
	breaker  *session.Breaker
	states   session.StateStore
	provider *oidc.Provider
	tokens   *tokens
	parser   *forward.Parser
	metrics  *metrics
	// refresher renews access tokens before they expire (refresh.go).
	refresher *refresher
	cookie    cookieSpec
	public    *url.URL
	origin    string // scheme://host of the public URL
	handler   http.Handler
	stop      context.CancelFunc
}

// New builds the server from d and starts its background work (OIDC
// discovery, session cache invalidation); Close stops it.
func New(d Deps) (*Server, error) {
	cfg := d.Config
	if cfg == nil || d.Redis == nil {
		return nil, errors.New("server: new: config and redis client are required")
	}
	if cfg.Rules == nil {
		return nil, errors.New("server: new: config has no rules")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	public, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("server: new: public url: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: d.Logger, now: d.Now, rdb: d.Redis,
		metrics: newMetrics(ruleNames(cfg.Rules.All())),
		public:  public,
		origin:  public.Scheme + "://" + public.Host,
		stop:    cancel,
	}
	fail := func(err error) (*Server, error) {
		s.Close()
		return nil, err
	}
	if s.cookie, err = newCookieSpec(cfg); err != nil {
		return fail(fmt.Errorf("server: new: %w", err))
	}
	// The breaker makes a Redis known to be down cost nothing per request
	// (public rules with a cookie are served anonymously at once, session
	// rules get their 503 at once) until its probe sees Redis answer.
	if s.breaker, err = session.NewBreaker(d.Redis, session.BreakerConfig{Logger: d.Logger}); err != nil {
		return fail(fmt.Errorf("server: new: %w", err))
	}
	go s.breaker.Run(ctx)
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "authproxy", Name: "session_store_circuit_open",
		Help: "1 while the session store is known to be down and commands fail fast.",
	}, func() float64 {
		if s.breaker.Open() {
			return 1
		}
		return 0
	}))
	s.fresh, err = session.NewRedisStore(session.Config{
		Client: d.Redis, Lifetime: cfg.SessionLifetime, IdleTimeout: cfg.SessionIdleTimeout,
		Now: d.Now, Logger: d.Logger,
	})
	if err != nil {
		return fail(fmt.Errorf("server: new: %w", err))
	}
	s.store = s.fresh
	if cfg.SessionCacheTTL > 0 {
		s.cached, err = session.NewCached(session.CacheConfig{
			Store: s.fresh, Client: d.Redis, TTL: cfg.SessionCacheTTL, Now: d.Now, Logger: d.Logger,
		})
		if err != nil {
			return fail(fmt.Errorf("server: new: %w", err))
		}
		s.store = s.cached
	}
	s.states = session.NewStateStore(d.Redis, "")
	s.provider, err = oidc.New(ctx, oidc.Config{
		URL: cfg.FusionAuthURL, Issuer: cfg.OIDCIssuer,
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret.Reveal(),
		RedirectURL: s.origin + public.Path + callbackPath,
		HTTPClient:  d.HTTPClient, Logger: d.Logger, Now: d.Now,
		Scopes: cfg.OIDCScopes, RolesClaim: cfg.RolesClaim,
		OpaqueAccessTokens: cfg.AccessTokenFormat == config.AccessTokenOpaque,
	})
	if err != nil {
		return fail(fmt.Errorf("server: new: %w", err))
	}
	s.provider.Start(ctx)
	s.refresher = &refresher{
		store: s.store, fresh: s.fresh, provider: s.provider, metrics: s.metrics,
		log: d.Logger, now: d.Now, window: cfg.RefreshWindow,
	}
	s.tokens, err = newTokens(cfg, d.Now)
	if err != nil {
		return fail(fmt.Errorf("server: new: %w", err))
	}
	s.parser = forward.NewParser(cfg.TrustedProxies)
	s.handler = s.routes()
	return s, nil
}

func ruleNames(rules []policy.Rule) []string {
	names := make([]string, len(rules))
	for i := range rules {
		names[i] = rules[i].Name
	}
	return names
}

// Close stops background work. The Redis client stays open (the caller owns it).
func (s *Server) Close() {
	s.stop()
	if s.cached != nil {
		_ = s.cached.Close()
	}
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Provider exposes the OIDC provider (tests wait for discovery).
func (s *Server) Provider() *oidc.Provider { return s.provider }

// Ready reports whether Redis answers and discovery has loaded.
func (s *Server) Ready(ctx context.Context) error {
	var errs []error
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		errs = append(errs, fmt.Errorf("redis: %w", err))
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
	mux.Handle("/authz", s.decisionHandler(dialectForwarded))
	mux.Handle("/authz/nginx", s.decisionHandler(dialectNginx))

	mux.Handle(startPath, s.only(http.MethodGet, s.start))
	mux.Handle(callbackPath, s.only(http.MethodGet, s.callbackPage))
	mux.Handle("/oauth2/logout", s.only(http.MethodPost, s.logout))
	mux.Handle("/oauth2/userinfo", s.only(http.MethodGet, s.userinfo))
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeError(w, ErrNotFound, "") })
	envoy := s.decisionHandler(dialectEnvoy)
	// Envoy appends the original path, dot segments and all, so its requests
	// must not reach ServeMux, which would redirect them to a cleaned path.
	return s.withRequestID(s.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.EscapedPath(); p == envoyPrefix || strings.HasPrefix(p, envoyPrefix+"/") {
			envoy.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})))
}

// recoverPanics turns a panic into the fixed 500 JSON answer and one log
// line with the stack; the panic's value is not logged (it may hold request
// data). http.ErrAbortHandler keeps its meaning.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // a recovered panic value, compared as net/http does
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic", slog.String(keyPath, r.URL.Path),
				slog.String("panic_type", fmt.Sprintf("%T", v)), slog.String("stack", string(debug.Stack())))
			writeError(w, errInternal, "")
		}()
		next.ServeHTTP(w, r)
	})
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

// withRequestID keeps a sane incoming X-Request-Id or makes one, echoes it
// and puts it in the context (the logger reads it from there).
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(httpkit.HeaderRequestID)
		if !httpkit.ValidRequestID(id) {
			id = httpkit.NewRequestID()
		}
		w.Header().Set(httpkit.HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(httpkit.ContextWithRequestID(r.Context(), id)))
	})
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.tokens.jwks())
}

// Timeouts of the HTTP server: a client (or a proxy) gets ReadHeaderTimeout
// to send its headers, so a slowloris cannot hold connections open.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second // above the refresh's lock wait
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// NewHTTPServer is the http.Server that serves h, with the timeouts and
// header limit above.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// NewRedisClient builds the go-redis UniversalClient for cfg: one address is
// a single node, several a Cluster, and a master name selects Sentinel. It
// is session.NewRedisClient's fail-fast client (one retry, one dial attempt,
// 1s timeouts, context deadlines honoured), so a Redis outage turns into a
// prompt 503 for session rules rather than a hung decision; its pool holds
// session.DefaultPoolSize() (10 per GOMAXPROCS) connections per node.
func NewRedisClient(cfg *config.Config) redis.UniversalClient {
	return session.NewRedisClient(redisOptions(cfg))
}

func redisOptions(cfg *config.Config) session.Options {
	o := session.Options{
		Addrs:            cfg.RedisAddrs,
		MasterName:       cfg.RedisMasterName,
		Username:         cfg.RedisUsername,
		Password:         cfg.RedisPassword.Reveal(),
		DB:               cfg.RedisDB,
		SentinelUsername: cfg.RedisSentinelUsername,
		SentinelPassword: cfg.RedisSentinelPassword.Reveal(),
		PoolSize:         session.DefaultPoolSize(),
	}
	if cfg.RedisTLS {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return o
}
