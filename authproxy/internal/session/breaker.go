package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for BreakerConfig.
const (
	DefaultBreakerThreshold = 2
	DefaultProbeInterval    = 100 * time.Millisecond
	DefaultProbeTimeout     = 500 * time.Millisecond
)

// errCircuitOpen is what a command gets while the breaker is open. It is
// ErrUnavailable to errors.Is, so every caller already maps it to "store
// down" (503 for session rules, anonymous for public ones).
var errCircuitOpen error = circuitOpenError{}

type circuitOpenError struct{}

func (circuitOpenError) Error() string { return "circuit open: redis is known to be down" }

func (circuitOpenError) Is(target error) bool { return target == ErrUnavailable } //nolint:errorlint // sentinel identity is the point

// BreakerConfig configures a Breaker.
type BreakerConfig struct {
	// Threshold is the number of consecutive transport failures (refused or
	// reset connections, timeouts) that open the breaker; 0 = 2. Replies
	// from Redis, errors included, are not failures.
	Threshold int
	// ProbeInterval is the pause between probes while open; 0 = 100ms. It
	// bounds how long the store stays refused after Redis is back.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe (a PING); 0 = 500ms.
	ProbeTimeout time.Duration
	Logger       *slog.Logger // nil = discard
}

// Breaker is a circuit breaker in front of a Redis client. While Redis
// answers it costs one atomic load per command. After Threshold
// consecutive transport failures it opens: every command fails at once
// with an error wrapping ErrUnavailable instead of waiting for a dial or
// read timeout, so a request that only hopes for a session (a public rule
// with a cookie) is served anonymously without delay, and one that needs a
// session gets its 503 at once. A background probe (Run) pings Redis every
// ProbeInterval while open and closes the breaker at the first answer.
//
// Pub/sub connections bypass go-redis's command hooks and keep their own
// reconnect loop; Cached already bypasses its cache while they are down.
type Breaker struct {
	rdb       redis.UniversalClient
	threshold int32
	interval  time.Duration
	timeout   time.Duration
	log       *slog.Logger

	open  atomic.Bool
	fails atomic.Int32
	wake  chan struct{} // capacity 1: tells Run the breaker opened
}

// NewBreaker installs a breaker on rdb (as a go-redis hook; it stays
// transparent until Run is started). Start Run in its own goroutine.
func NewBreaker(rdb redis.UniversalClient, cfg BreakerConfig) (*Breaker, error) {
	if rdb == nil {
		return nil, errors.New("session: new breaker: nil redis client")
	}
	if cfg.Threshold < 0 || cfg.ProbeInterval < 0 || cfg.ProbeTimeout < 0 {
		return nil, errors.New("session: new breaker: negative setting")
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultBreakerThreshold
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Breaker{
		rdb: rdb, threshold: int32(min(cfg.Threshold, 1<<20)), //nolint:gosec // bounded above
		interval: cfg.ProbeInterval, timeout: cfg.ProbeTimeout, log: cfg.Logger,
		wake: make(chan struct{}, 1),
	}
	rdb.AddHook(breakerHook{b})
	return b, nil
}

// Open reports whether the breaker currently refuses commands.
func (b *Breaker) Open() bool { return b.open.Load() }

// Run probes Redis while the breaker is open and closes it when Redis
// answers; it returns when ctx ends, leaving the breaker closed (so a
// client that outlives it is not left refusing everything).
func (b *Breaker) Run(ctx context.Context) {
	defer b.close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		}
		b.log.WarnContext(ctx, "session store unreachable: failing fast until it answers")
		since := time.Now()
		t := time.NewTicker(b.interval)
		for b.open.Load() {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			pctx, cancel := context.WithTimeout(context.WithValue(ctx, probeKey{}, true), b.timeout)
			err := b.rdb.Ping(pctx).Err()
			cancel()
			if err == nil {
				b.close()
				b.log.InfoContext(ctx, "session store answers again", slog.Duration("down_for", time.Since(since)))
			}
		}
		t.Stop()
	}
}

func (b *Breaker) close() {
	b.fails.Store(0)
	b.open.Store(false)
}

// observe counts a command's outcome and opens the breaker at the
// threshold.
func (b *Breaker) observe(ctx context.Context, err error) {
	if !transportFailure(ctx, err) {
		if b.fails.Load() != 0 {
			b.fails.Store(0)
		}
		return
	}
	if b.fails.Add(1) >= b.threshold && b.open.CompareAndSwap(false, true) {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// transportFailure: the command got no answer from Redis (as opposed to a
// reply, redis.Nil and error replies included, or the caller giving up).
func transportFailure(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, errCircuitOpen) {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return false // Redis replied (an error reply)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return false // the caller went away; says nothing about Redis
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, redis.ErrClosed) || isConnLoss(err)
}

// isConnLoss catches the connection errors go-redis does not wrap in a
// net.Error (an EOF from a server that went away, a pool timeout).
func isConnLoss(err error) bool {
	return errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

type probeKey struct{}

func isProbe(ctx context.Context) bool { v, _ := ctx.Value(probeKey{}).(bool); return v }

// breakerHook is the go-redis hook that refuses commands while open.
type breakerHook struct{ b *Breaker }

func (h breakerHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h breakerHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.b.open.Load() && !isProbe(ctx) {
			cmd.SetErr(errCircuitOpen)
			return errCircuitOpen
		}
		err := next(ctx, cmd)
		if !isProbe(ctx) {
			h.b.observe(ctx, err)
		}
		return err
	}
}

func (h breakerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.b.open.Load() && !isProbe(ctx) {
			for _, c := range cmds {
				c.SetErr(errCircuitOpen)
			}
			return errCircuitOpen
		}
		err := next(ctx, cmds)
		h.b.observe(ctx, err)
		return err
	}
}
