package jwtauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestStaleFeedPassesAnonymousGatewayTokens: while the feed is stale, the
// gateway's anonymous tokens (no revocation can match them) pass, and
// every token a revocation could match is still refused.
func TestStaleFeedPassesAnonymousGatewayTokens(t *testing.T) {
	t.Parallel()
	a := keysA()
	srv := newFeedServer(t, "e.0", emptyFeed)
	c := newClock()
	cfg := testConfig(t, c, "http://127.0.0.1:1/unused")
	cfg.Issuers = cfg.Issuers[:2]
	cfg.Revocations = &RevocationConfig{URL: srv.URL, Interval: 5 * time.Second, MaxStale: 5 * time.Second, GatewayIssuer: issHMAC}
	v := newVerifier(t, cfg)
	ctx := context.Background()
	srv.set(http.StatusBadGateway, "", "")
	c.Advance(6 * time.Second)
	_ = v.revs.poll(ctx)

	tok := func(iss string, kv ...any) string {
		if iss == issHMAC {
			return sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(iss), kv...))
		}
		return sign(t, jwt.SigningMethodRS256, a.rsa, "", with(claims(iss), kv...))
	}
	for _, tt := range []struct {
		name  string
		token string
		pass  bool
	}{
		{name: "anonymous gateway token", token: tok(issHMAC, "sub", AnonymousSubject), pass: true},
		{name: "anonymous with a sid", token: tok(issHMAC, "sub", AnonymousSubject, "sid", "s1")},
		{name: "a user's gateway token", token: tok(issHMAC, "sub", "user-1")},
		{name: "anonymous of another issuer", token: tok(issPEM, "sub", AnonymousSubject)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(ctx, tt.token)
			switch {
			case tt.pass && err != nil:
				t.Fatalf("Verify: %v, want a pass", err)
			case !tt.pass && !errors.Is(err, ErrRevocationsUnavailable):
				t.Fatalf("Verify = %v, want ErrRevocationsUnavailable", err)
			}
		})
	}
}

func TestGatewayIssuerFromFeedOrigin(t *testing.T) {
	t.Parallel()
	issuers := []IssuerConfig{
		{Issuer: "https://idp.example", JWKSURL: "https://idp.example/.well-known/jwks.json"},
		{Issuer: "https://gw.example", JWKSURL: "http://authproxy:4180/.well-known/jwks.json"},
	}
	for _, tt := range []struct {
		name string
		rc   RevocationConfig
		want string
	}{
		{name: "same origin as the feed", rc: RevocationConfig{URL: "http://authproxy:4180/revocations"}, want: "https://gw.example"},
		{name: "explicit", rc: RevocationConfig{URL: "http://authproxy:4180/revocations", GatewayIssuer: "https://other"}, want: "https://other"},
		{name: "no issuer at the feed's origin", rc: RevocationConfig{URL: "http://authproxy:9999/revocations"}, want: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.rc.gatewayIssuer(issuers); got != tt.want {
				t.Errorf("gatewayIssuer = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFeedPollTimeoutIsTheInterval: a poll to a feed that never answers
// ends with a deadline after one interval, not after the staleness bound.
func TestFeedPollTimeoutIsTheInterval(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); hung.Close() })
	f := newFollower(&httpSource{url: hung.URL, client: hung.Client()}, hung.URL, 50*time.Millisecond, time.Hour, time.Now, slog.New(slog.DiscardHandler))
	if f.timeout != f.interval {
		t.Fatalf("timeout %s, want the interval %s", f.timeout, f.interval)
	}
	start := time.Now()
	err := f.poll(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("poll = %v, want a deadline", err)
	}
	t.Logf("hung poll ended after %s (interval 50ms, max-stale 1h)", time.Since(start))
}

// scriptedSource answers from a list of errors (nil = a fresh document)
// and calls after once the list is used up.
type scriptedSource struct {
	mu    sync.Mutex
	errs  []error
	calls int
	after func()
}

func (s *scriptedSource) RevocationFeed(context.Context, string) (*RevocationFeed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var err error
	if len(s.errs) > 0 {
		err, s.errs = s.errs[0], s.errs[1:]
	}
	if len(s.errs) == 0 && s.after != nil {
		s.after()
	}
	if err != nil {
		return nil, err
	}
	return &RevocationFeed{Version: "e.1"}, nil
}

// TestFeedRetriedAtOnce: a failed poll is retried without waiting for the
// next tick; a successful one is not.
func TestFeedRetriedAtOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		errs      []error
		wantCalls int
	}{
		{name: "failure, then success", errs: []error{errors.New("dial: refused"), nil}, wantCalls: 2},
		{name: "success", errs: []error{nil}, wantCalls: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src := &scriptedSource{errs: tt.errs, after: cancel}
			f := newFollower(src, "test", time.Second, 5*time.Second, time.Now, slog.New(slog.DiscardHandler))
			tick := make(chan time.Time, 1)
			tick <- time.Now() // one tick only
			f.loop(ctx, tick)
			if src.calls != tt.wantCalls {
				t.Errorf("polls on one tick = %d, want %d", src.calls, tt.wantCalls)
			}
			if err := f.fresh(); err != nil {
				t.Errorf("after the tick: %v", err)
			}
		})
	}
}

// TestStaleFeedRefusalsLoggedAtDebug: during a feed outage the follower
// warns once; the refused requests are logged at debug, not at warn.
func TestStaleFeedRefusalsLoggedAtDebug(t *testing.T) {
	t.Parallel()
	a := keysA()
	srv := newFeedServer(t, "e.0", emptyFeed)
	var logs testkit.LogBuffer
	c := newClock()
	cfg := testConfig(t, c, "http://127.0.0.1:1/unused")
	cfg.Issuers = cfg.Issuers[:2]
	cfg.Revocations = &RevocationConfig{URL: srv.URL, Interval: 5 * time.Second, MaxStale: 5 * time.Second}
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v := newVerifier(t, cfg)
	srv.set(http.StatusBadGateway, "", "")
	c.Advance(6 * time.Second)
	for range 3 {
		_ = v.revs.poll(context.Background())
	}
	mw := httptest.NewServer(v.Middleware(claimsHandler(t)))
	t.Cleanup(mw.Close)
	tok := sign(t, jwt.SigningMethodHS256, a.hmac, "", claims(issHMAC))
	for range 3 {
		if got := do(t, mw.URL, []string{"Bearer " + tok}); got.status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", got.status)
		}
	}
	var warns, debugs int
	for line := range strings.SplitSeq(logs.String(), "\n") {
		switch {
		case strings.Contains(line, `"level":"WARN"`):
			warns++
		case strings.Contains(line, `"level":"DEBUG"`) && strings.Contains(line, "token rejected"):
			debugs++
		}
	}
	if warns != 1 || debugs != 3 {
		t.Errorf("warn lines %d, debug rejections %d; want 1 (the outage) and 3:\n%s", warns, debugs, logs.String())
	}
}

// fixedSource always answers one document.
type fixedSource struct{ feed RevocationFeed }

func (s fixedSource) RevocationFeed(context.Context, string) (*RevocationFeed, error) {
	f := s.feed
	return &f, nil
}

// TestCheckSession: a session (sid, user, creation time) is revoked by its
// sid, and by its user's revocation or a cutoff more than a second after
// the second of its creation; one in that second or the next is near (the
// store decides); a stale copy says it is unavailable, not revoked.
func TestCheckSession(t *testing.T) {
	t.Parallel()
	const created = 1_000_000
	feed := RevocationFeed{
		Version:  "e.1",
		Sessions: []string{"gone"},
		Subjects: []RevokedSubject{
			{Subject: "u-later", IssuedAtMax: created + 2}, {Subject: "u-next", IssuedAtMax: created + 1},
			{Subject: "u-same", IssuedAtMax: created}, {Subject: "u-before", IssuedAtMax: created - 1},
		},
	}
	tests := []struct {
		name     string
		cutoff   int64
		sid, sub string
		want     error
	}{
		{name: "nothing matches", sid: "live", sub: "u", want: nil},
		{name: "session revoked", sid: "gone", sub: "u", want: ErrRevoked},
		{name: "session revoked, user near", sid: "gone", sub: "u-same", want: ErrRevoked},
		{name: "user revoked two seconds after creation", sid: "live", sub: "u-later", want: ErrRevoked},
		{name: "user revoked the second after creation", sid: "live", sub: "u-next", want: ErrRevokedNearCreation},
		{name: "user revoked in the second of creation", sid: "live", sub: "u-same", want: ErrRevokedNearCreation},
		{name: "user revoked before creation", sid: "live", sub: "u-before", want: nil},
		{name: "cutoff two seconds after creation", cutoff: created + 2, sid: "live", sub: "u", want: ErrRevoked},
		{name: "cutoff in the second of creation", cutoff: created, sid: "live", sub: "u", want: ErrRevokedNearCreation},
		{name: "cutoff before creation", cutoff: created - 1, sid: "live", sub: "u", want: nil},
		{name: "cutoff later, user near", cutoff: created + 5, sid: "live", sub: "u-same", want: ErrRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := feed
			f.Cutoff = tt.cutoff
			r := NewRevocationFollower(fixedSource{feed: f}, time.Second, 5*time.Second, nil, nil)
			if err := r.Poll(t.Context()); err != nil {
				t.Fatalf("poll: %v", err)
			}
			err := r.CheckSession(tt.sid, tt.sub, created)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("CheckSession = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("never read", func(t *testing.T) {
		t.Parallel()
		r := NewRevocationFollower(fixedSource{feed: feed}, time.Second, 5*time.Second, nil, nil)
		if err := r.CheckSession("gone", "u", created); !errors.Is(err, ErrRevocationsUnavailable) {
			t.Errorf("CheckSession before any read = %v, want ErrRevocationsUnavailable", err)
		}
	})
}
