package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// feedServer serves a swappable feed document with its version as ETag,
// answering 304 to a matching If-None-Match, or an error status.
type feedServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   string
	etag   string
	status int
	plain  int // requests without If-None-Match
}

func newFeedServer(t testing.TB, version, body string) *feedServer {
	t.Helper()
	s := &feedServer{body: body, etag: `"` + version + `"`, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Header.Get("If-None-Match") == "" {
			s.plain++
		}
		if s.status != http.StatusOK {
			w.WriteHeader(s.status)
			return
		}
		w.Header().Set("ETag", s.etag)
		if r.Header.Get("If-None-Match") == s.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte(s.body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *feedServer) set(status int, version, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.etag, s.body = status, `"`+version+`"`, body
}

// feedVerifier trusts hs.test and follows url with a 5 s staleness bound
// on a fake clock; the test polls by hand (a background poll, every 5 s of
// real time, changes nothing the tests look at).
func feedVerifier(t testing.TB, url string) (*Verifier, func(time.Duration)) {
	t.Helper()
	c := newClock()
	cfg := testConfig(t, c, "http://127.0.0.1:1/unused")
	cfg.Issuers = cfg.Issuers[:2]
	cfg.Revocations = &RevocationConfig{URL: url, Interval: 5 * time.Second, MaxStale: 5 * time.Second}
	return newVerifier(t, cfg), c.Advance
}

const emptyFeed = `{"version":"e.0","sessions":[],"subjects":[]}`

func TestRevocationFeedRefusesRevokedTokens(t *testing.T) {
	t.Parallel()
	a := keysA()
	feed := `{"version":"e.1","sessions":["sid-gone"],"subjects":[{"sub":"user-gone","iat_max":` +
		strconv.FormatInt(t0.Unix(), 10) + `}]}`
	srv := newFeedServer(t, "e.1", feed)
	v, _ := feedVerifier(t, srv.URL)
	tok := func(kv ...any) string {
		return sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), kv...))
	}
	for _, tt := range []struct {
		name  string
		token string
		want  error
	}{
		{name: "other session", token: tok("sid", "sid-live"), want: nil},
		{name: "revoked session", token: tok("sid", "sid-gone"), want: ErrRevoked},
		{name: "revoked session, other subject", token: tok("sid", "sid-gone", "sub", "someone"), want: ErrRevoked},
		{name: "subject revoked, issued in the revocation's second", token: tok("sub", "user-gone"), want: ErrRevoked},
		{name: "subject revoked, issued before", token: tok("sub", "user-gone", "iat", t0.Unix()-10), want: ErrRevoked},
		{name: "subject revoked, no iat", token: tok("sub", "user-gone", "iat", nil), want: ErrRevoked},
		{name: "subject revoked, issued after", token: tok("sub", "user-gone", "iat", t0.Unix()+1), want: nil},
		{name: "other subject", token: tok("sub", "user-2"), want: nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			verifyTwice(t, v, tt.token, tt.want)
		})
	}
}

// TestRevocationFeedCutoffAndOrigIat: the application-wide cutoff revokes
// every token issued until it but the anonymous gateway tokens, and both it
// and the subject rule compare the earlier of iat and orig_iat.
func TestRevocationFeedCutoffAndOrigIat(t *testing.T) {
	t.Parallel()
	a := keysA()
	unix := func(d int64) int64 { return t0.Unix() + d }
	feed := `{"version":"e.1","sessions":[],"subjects":[{"sub":"user-gone","iat_max":` +
		strconv.FormatInt(unix(-10), 10) + `}],"cutoff":` + strconv.FormatInt(unix(-100), 10) + `}`
	srv := newFeedServer(t, "e.1", feed)
	v, _ := feedVerifier(t, srv.URL)
	tok := func(kv ...any) string {
		return sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), kv...))
	}
	for _, tt := range []struct {
		name  string
		token string
		want  error
	}{
		{name: "issued after the cutoff", token: tok("iat", unix(-99)), want: nil},
		{name: "issued in the cutoff's second", token: tok("iat", unix(-100)), want: ErrRevoked},
		{name: "issued before the cutoff", token: tok("iat", unix(-3600)), want: ErrRevoked},
		{name: "no iat", token: tok("iat", nil), want: ErrRevoked},
		{name: "anonymous, no sid", token: tok("sub", AnonymousSubject, "iat", unix(-200)), want: nil},
		{name: "anonymous with a sid", token: tok("sub", AnonymousSubject, "sid", "s1", "iat", unix(-200)), want: ErrRevoked},
		{name: "fresh, orig_iat before the cutoff", token: tok("orig_iat", unix(-100)), want: ErrRevoked},
		{name: "fresh, orig_iat after the cutoff", token: tok("orig_iat", unix(-99)), want: nil},
		{name: "subject, fresh, orig_iat in the revocation's second", token: tok("sub", "user-gone", "orig_iat", unix(-10)), want: ErrRevoked},
		{name: "subject, fresh, orig_iat after", token: tok("sub", "user-gone", "orig_iat", unix(-9)), want: nil},
		{name: "subject, orig_iat later than iat", token: tok("sub", "user-gone", "iat", unix(-10), "orig_iat", unix(0)), want: ErrRevoked},
		{name: "orig_iat not a number", token: tok("orig_iat", "1"), want: ErrInvalidToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			verifyTwice(t, v, tt.token, tt.want)
		})
	}
}

func TestRevocationFeedFollowsChanges(t *testing.T) {
	t.Parallel()
	a := keysA()
	srv := newFeedServer(t, "e.0", emptyFeed)
	v, _ := feedVerifier(t, srv.URL)
	tok := sign(t, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "sid", "s1"))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	v.revs.poll(ctx) // unchanged: 304
	srv.set(http.StatusOK, "e.1", `{"version":"e.1","sessions":["s1"],"subjects":[]}`)
	v.revs.poll(ctx)
	if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after the revocation: %v, want ErrRevoked", err)
	}
	srv.mu.Lock()
	plain := srv.plain
	srv.mu.Unlock()
	if plain != 1 {
		t.Errorf("requests without If-None-Match = %d, want 1 (the first poll only)", plain)
	}
}

// TestRevocationFeedFailsSafe: a feed not read within MaxStale (down,
// erroring, garbage, never read) refuses every token with
// ErrRevocationsUnavailable and the middleware answers 503; reading it
// again ends that.
func TestRevocationFeedFailsSafe(t *testing.T) {
	t.Parallel()
	a := keysA()
	tok := sign(t, jwt.SigningMethodHS256, a.hmac, "", claims(issHMAC))
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		status int
		body   string
	}{
		{name: "server error", status: http.StatusInternalServerError},
		{name: "not found", status: http.StatusNotFound},
		{name: "garbage", status: http.StatusOK, body: `{"version":`},
		{name: "unknown member", status: http.StatusOK, body: `{"version":"v","sessions":[],"subjects":[],"x":1}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFeedServer(t, "e.0", emptyFeed)
			v, advance := feedVerifier(t, srv.URL)
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("fresh feed: %v", err)
			}
			srv.set(tt.status, "e.9", tt.body)
			advance(4 * time.Second)
			v.revs.poll(ctx)
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("failed for 4s of a 5s bound: %v", err)
			}
			advance(2 * time.Second)
			v.revs.poll(ctx)
			_, err := v.Verify(ctx, tok)
			if !errors.Is(err, ErrRevocationsUnavailable) || errors.Is(err, ErrInvalidToken) {
				t.Fatalf("stale for 6s: %v, want ErrRevocationsUnavailable and no token verdict", err)
			}
			if err := v.Ready(); err != nil {
				t.Errorf("Ready() = %v with a stale feed, want nil (a stale feed does not make the service unready)", err)
			}
			mw := httptest.NewServer(v.Middleware(claimsHandler(t)))
			t.Cleanup(mw.Close)
			got := do(t, mw.URL, []string{"Bearer " + tok})
			want := map[string]any{"error": "unavailable", "message": "token revocations cannot be checked right now"}
			if got.status != http.StatusServiceUnavailable || got.challenge != "" {
				t.Errorf("middleware: status %d, WWW-Authenticate %q; want 503 without a challenge", got.status, got.challenge)
			}
			if diff := cmp.Diff(want, got.body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			srv.set(http.StatusOK, "e.0", emptyFeed)
			v.revs.poll(ctx)
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("feed back: %v", err)
			}
		})
	}
}

func TestRevocationFeedNeverRead(t *testing.T) {
	t.Parallel()
	a := keysA()
	srv := newFeedServer(t, "e.0", emptyFeed)
	srv.set(http.StatusBadGateway, "", "")
	v, _ := feedVerifier(t, srv.URL)
	tok := sign(t, jwt.SigningMethodHS256, a.hmac, "", claims(issHMAC))
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrRevocationsUnavailable) {
		t.Fatalf("Verify = %v, want ErrRevocationsUnavailable", err)
	}
}

func TestRevocationConfigValidate(t *testing.T) {
	t.Parallel()
	base := testConfig(t, newClock(), "http://127.0.0.1:1/unused")
	for _, tt := range []struct {
		name string
		rc   RevocationConfig
		want string // substring of the error; "" = valid
	}{
		{name: "defaults", rc: RevocationConfig{URL: "http://authproxy:4180/revocations"}},
		{name: "relative URL", rc: RevocationConfig{URL: "/revocations"}, want: "not an absolute http(s) URL"},
		{name: "other scheme", rc: RevocationConfig{URL: "redis://x/revocations"}, want: "not an absolute http(s) URL"},
		{name: "negative", rc: RevocationConfig{URL: "http://a/r", Interval: -time.Second}, want: "negative"},
		{name: "stale below interval", rc: RevocationConfig{URL: "http://a/r", Interval: 10 * time.Second}, want: "below the poll interval"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			cfg.Revocations = &tt.rc
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrConfig)):
				t.Fatalf("Validate = %v, want ErrConfig mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseRevocationFeed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		in   string
		want *RevocationFeed // nil = an error
	}{
		{name: "empty lists", in: emptyFeed, want: &RevocationFeed{Version: "e.0", Sessions: []string{}, Subjects: []RevokedSubject{}}},
		{name: "entries", in: `{"version":"a.2","sessions":["x"],"subjects":[{"sub":"u","iat_max":7}]}`,
			want: &RevocationFeed{Version: "a.2", Sessions: []string{"x"}, Subjects: []RevokedSubject{{Subject: "u", IssuedAtMax: 7}}}},
		{name: "no version", in: `{"sessions":[],"subjects":[]}`},
		{name: "empty session", in: `{"version":"v","sessions":[""]}`},
		{name: "empty subject", in: `{"version":"v","subjects":[{"sub":"","iat_max":1}]}`},
		{name: "unknown member", in: `{"version":"v","extra":true}`},
		{name: "trailing data", in: emptyFeed + `{}`},
		{name: "not an object", in: `[]`},
		{name: "iat_max not a number", in: `{"version":"v","subjects":[{"sub":"u","iat_max":"1"}]}`},
		{name: "cutoff", in: `{"version":"v","sessions":[],"subjects":[],"cutoff":1700000000}`,
			want: &RevocationFeed{Version: "v", Sessions: []string{}, Subjects: []RevokedSubject{}, Cutoff: 1700000000}},
		{name: "cutoff zero, as omitted", in: `{"version":"v","cutoff":0}`, want: &RevocationFeed{Version: "v"}},
		{name: "negative cutoff", in: `{"version":"v","cutoff":-1}`},
		{name: "cutoff not a number", in: `{"version":"v","cutoff":"1700000000"}`},
		{name: "cutoff fractional", in: `{"version":"v","cutoff":1.5}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRevocationFeed([]byte(tt.in))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("ParseRevocationFeed = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRevocationFeed: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseRevocationFeed: the parser never panics, and whatever it
// accepts has a version, no empty entry, and parses again the same after
// a round trip through its own lookup set.
func FuzzParseRevocationFeed(f *testing.F) {
	f.Add([]byte(emptyFeed))
	f.Add([]byte(`{"version":"a.2","sessions":["x","y"],"subjects":[{"sub":"u","iat_max":7},{"sub":"u","iat_max":9}]}`))
	f.Add([]byte(`{"version":"v","sessions":null,"subjects":null}`))
	f.Add([]byte(`{"version":"v","subjects":[{"sub":"u","iat_max":1e30}]}`))
	f.Add([]byte(`{"version":"c.3","sessions":[],"subjects":[],"cutoff":1700000000}`))
	f.Add([]byte(`{"version":"v","cutoff":-1}`))
	f.Add([]byte(`{"version":"v","cutoff":null,"Cutoff":5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		feed, err := ParseRevocationFeed(b)
		if err != nil {
			return
		}
		if feed.Version == "" {
			t.Fatal("accepted a feed without a version")
		}
		set := newRevocationSet(feed)
		for _, s := range feed.Sessions {
			if s == "" || set.revoked(&Claims{SessionID: s}) == "" {
				t.Fatalf("session %q accepted but not revoked", s)
			}
		}
		for _, s := range feed.Subjects {
			if s.Subject == "" || set.revoked(&Claims{Subject: s.Subject}) == "" {
				t.Fatalf("subject %q accepted but not revoked", s.Subject)
			}
		}
		if feed.Cutoff < 0 {
			t.Fatalf("accepted a negative cutoff %d", feed.Cutoff)
		}
		if feed.Cutoff > 0 {
			at := &Claims{Subject: "cutoff-probe", IssuedAt: jwt.NewNumericDate(time.Unix(feed.Cutoff, 0))}
			if set.revoked(at) == "" {
				t.Fatalf("cutoff %d accepted but a token issued at it not revoked", feed.Cutoff)
			}
			_, listed := set.subjects[AnonymousSubject]
			if anon := (&Claims{Subject: AnonymousSubject, IssuedAt: at.IssuedAt}); !listed && set.revoked(anon) != "" {
				t.Fatalf("cutoff %d revokes an anonymous token", feed.Cutoff)
			}
		}
	})
}

// BenchmarkVerifyRevocations measures a cached Verify without a feed and
// with a feed of 10,000 revoked sessions and 10,000 revoked subjects (the
// check is two map lookups on the copy in memory).
func BenchmarkVerifyRevocations(b *testing.B) {
	a := keysA()
	tok := sign(b, jwt.SigningMethodHS256, a.hmac, "", with(claims(issHMAC), "sid", "live"))
	feed := RevocationFeed{Version: "e.1", Sessions: []string{}, Subjects: []RevokedSubject{}}
	for i := range 10000 {
		n := strconv.Itoa(i)
		feed.Sessions = append(feed.Sessions, "sid-"+n)
		feed.Subjects = append(feed.Subjects, RevokedSubject{Subject: "gone-" + n, IssuedAtMax: t0.Unix()})
	}
	body, err := json.Marshal(feed)
	if err != nil {
		b.Fatal(err)
	}
	srv := newFeedServer(b, "e.1", string(body))
	for _, tt := range []struct {
		name string
		v    func() *Verifier
	}{
		{name: "nofeed", v: func() *Verifier {
			cfg := testConfig(b, newClock(), "http://127.0.0.1:1/unused")
			cfg.Issuers = cfg.Issuers[:2]
			return newVerifier(b, cfg)
		}},
		{name: "feed", v: func() *Verifier { v, _ := feedVerifier(b, srv.URL); return v }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			v := tt.v()
			ctx := context.Background()
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// verifyTwice verifies token twice, the second answer coming from the
// verified-token cache, which must not bypass the feed: nil wants it
// accepted, else refused as an invalid token wrapping want.
func verifyTwice(t *testing.T, v *Verifier, token string, want error) {
	t.Helper()
	for range 2 {
		_, err := v.Verify(context.Background(), token)
		if want == nil && err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if want != nil && (!errors.Is(err, want) || !errors.Is(err, ErrInvalidToken)) {
			t.Fatalf("Verify = %v, want %v (an invalid token)", err, want)
		}
	}
}
