package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/config"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// TestRetentionShorterThanAccessTokens (review of issue 10, finding 6):
// when the provider's access tokens (the dev IdP's: 1 h) live longer than
// --revocation-retention, authproxy warns once, however many logins, and
// both durations are metrics an alert compares.
func TestRetentionShorterThanAccessTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		retention time.Duration
		wantWarns int
		wantRet   string
	}{
		{name: "shorter", retention: 30 * time.Minute, wantWarns: 1, wantRet: "1800"},
		{name: "default, as long as the tokens", wantWarns: 0, wantRet: "3600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, ps := newEnv(t, envOpts{cfg: func(c *config.Config) { c.RevocationRetention = tt.retention }})
			p := ps[0]
			loggedIn(t, p, "admin@example.com")
			loggedIn(t, p, "customer@example.com")
			if got := strings.Count(e.logs.String(), "live longer than revocation-retention"); got != tt.wantWarns {
				t.Errorf("warnings %d, want %d:\n%s", got, tt.wantWarns, e.logs.String())
			}
			m := scrape(t, p)
			for _, want := range []string{
				"authproxy_access_token_lifetime_max_seconds 3600\n",
				"authproxy_revocation_retention_seconds " + tt.wantRet + "\n",
			} {
				if !strings.Contains(m, want) {
					t.Errorf("metrics lack %q", want)
				}
			}
		})
	}
}

// TestRevocationFeedSizeMetrics (finding 4): the feed's entry count and
// bytes, as last built, are metrics.
func TestRevocationFeedSizeMetrics(t *testing.T) {
	t.Parallel()
	src := &memRevocations{}
	_, ps := newEnv(t, envOpts{fakeIdP: true, revocations: src})
	p := ps[0]
	src.set(session.Revocations{Version: "e.1", Sessions: []string{"s1", "s2"}, Subjects: map[string]int64{"u1": 7}}, false)
	if err := p.srv.revoked.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp, body := newBrowser(t).get(p.url + FeedPath)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed: %d", resp.StatusCode)
	}
	m := scrape(t, p)
	for _, want := range []string{
		"authproxy_revocation_feed_entries 3\n",
		fmt.Sprintf("authproxy_revocation_feed_bytes %d\n", len(body)),
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
