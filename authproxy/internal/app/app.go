// Package app assembles authproxy from its configuration: the Redis
// client, its circuit breaker, the session store and its in-process cache,
// the login-state store and the OIDC provider, handed to server.New as the
// interfaces the server takes. main builds an App and serves its handler;
// the server's own tests give it in-memory stand-ins instead.
package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/cutoff"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/server"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/services/shared/tracing"
)

// Deps are what main hands the App. Config is required.
type Deps struct {
	Config *config.Config
	// Logger receives JSON logs; nil discards.
	Logger *slog.Logger
	// HTTPClient talks to the identity provider; nil = 10 s timeout client.
	HTTPClient *http.Client
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// Tracing, when on, adds spans: the server's, the decision's, the
	// session load's and Redis commands'. nil = off. (The HTTPClient's
	// transport is main's to wrap.)
	Tracing *tracing.Tracing
}

// App is authproxy assembled: the server and what it runs on. Build it with
// New; Close it.
type App struct {
	server  *server.Server
	handler http.Handler
	rdb     redis.UniversalClient
	cached  *session.Cached // nil when session-cache-ttl is 0
	stop    context.CancelFunc
	// bg holds the background loops started here (breaker probe, rules
	// watch); Close waits for them, so none logs or touches Redis after.
	bg sync.WaitGroup
}

// New builds the Redis client (NewRedisClient), the circuit breaker on it,
// the session store (cached when session-cache-ttl > 0), the login-state
// store and the provider, starts their background work (breaker probe,
// cache invalidation, discovery), builds the server on them and, with
// rules-reload, starts its watch of the rules file.
func New(d Deps) (*App, error) {
	cfg := d.Config
	if cfg == nil {
		return nil, errors.New("app: new: config required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &App{rdb: NewRedisClient(cfg), stop: cancel}
	fail := func(err error) (*App, error) {
		a.Close()
		return nil, fmt.Errorf("app: new: %w", err)
	}
	// The breaker makes a Redis known to be down cost nothing per request
	// (public rules with a cookie are served anonymously at once, session
	// rules get their 503 at once) until its probe sees Redis answer.
	breaker, err := session.NewBreaker(a.rdb, session.BreakerConfig{Logger: d.Logger})
	if err != nil {
		return fail(err)
	}
	a.bg.Go(func() { breaker.Run(ctx) })
	if err := instrumentRedis(a.rdb, d.Tracing); err != nil {
		return fail(err)
	}
	fresh, err := session.NewRedisStore(session.Config{
		Client: a.rdb, Lifetime: cfg.SessionLifetime, IdleTimeout: cfg.SessionIdleTimeout,
		RevocationRetention: cfg.RevocationRetention, Now: d.Now, Logger: d.Logger,
	})
	if err != nil {
		return fail(err)
	}
	var store session.Store = fresh
	if cfg.SessionCacheTTL > 0 {
		a.cached, err = session.NewCached(session.CacheConfig{
			Store: fresh, Client: a.rdb, TTL: cfg.SessionCacheTTL, MaxEntries: cfg.SessionCacheEntries, Now: d.Now, Logger: d.Logger,
		})
		if err != nil {
			return fail(err)
		}
		store = a.cached
	}
	// FusionAuth's revocation of all of the application's refresh tokens
	// voids the sessions created until then (package cutoff) and, through
	// the revocation feed, the tokens issued until then: kept as long as
	// either may live.
	retention := cmp.Or(cfg.RevocationRetention, session.DefaultRevocationRetention) + time.Minute
	cutoffs, err := cutoff.New(a.rdb, "", max(cfg.SessionLifetime, retention))
	if err != nil {
		return fail(err)
	}
	if store, err = cutoff.NewStore(cutoff.Config{Store: store, Cutoffs: cutoffs, Now: d.Now, Logger: d.Logger}); err != nil {
		return fail(err)
	}
	store = traceStore(store, d.Tracing)
	ocfg, err := server.OIDCConfig(cfg)
	if err != nil {
		return fail(err)
	}
	ocfg.HTTPClient, ocfg.Logger, ocfg.Now = d.HTTPClient, d.Logger, d.Now
	provider, err := oidc.New(ctx, ocfg)
	if err != nil {
		return fail(err)
	}
	provider.Start(ctx)
	rv, err := newRevocation(cfg, fresh, cutoffs, a.rdb, provider, d.Logger)
	if err != nil {
		return fail(err)
	}
	a.server, err = server.New(server.Deps{
		Config: cfg, Store: store, Fresh: fresh, States: session.NewStateStore(a.rdb, ""),
		Provider: provider, Ping: fresh.Ping, CircuitOpen: breaker.Open,
		Webhook: rv.webhook, BackChannel: rv.backChannel, Links: rv.links, Revocations: fresh,
		Logger: d.Logger, Now: d.Now, Tracer: d.Tracing.Tracer("github.com/gatewarden/gatewarden/authproxy"),
	})
	if err != nil {
		return fail(err)
	}
	a.handler = d.Tracing.Middleware(a.server.Handler())
	a.bg.Go(func() { a.server.WatchRevocations(ctx) })
	if cfg.RulesReload {
		a.bg.Go(func() { a.server.WatchRules(ctx, cfg.RulesReloadInterval) })
	}
	return a, nil
}

// Handler returns the server's root handler (in a server span when
// tracing is on).
func (a *App) Handler() http.Handler { return a.handler }

// IdPHandler serves the identity provider's calls on the listener of
// --webhook-listen; nil without it.
func (a *App) IdPHandler() http.Handler { return a.server.IdPHandler() }

// Close stops the background work, waits for the loops started in New,
// and closes the Redis client.
func (a *App) Close() {
	a.stop()
	a.bg.Wait()
	if a.cached != nil {
		_ = a.cached.Close()
	}
	_ = a.rdb.Close()
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
