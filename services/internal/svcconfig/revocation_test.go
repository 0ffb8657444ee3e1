package svcconfig_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/internal/svcconfig"
	"github.com/gatewarden/gatewarden/services/internal/svctest"
	"github.com/gatewarden/gatewarden/services/shared/jwtauth"
)

// TestLoadRevocationFeed: the feed options reach the verifier's
// configuration, off by default, and bad values are reported.
func TestLoadRevocationFeed(t *testing.T) {
	t.Parallel()
	a := svctest.NewIssuer(t, "https://a.test")
	feed := "http://authproxy:4180/revocations"
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    *jwtauth.RevocationConfig
		problem string
	}{
		{name: "off by default", args: []string{"--issuer", a.Spec()}},
		{
			name: "env", env: map[string]string{"JWT_ISSUERS": a.Spec(), "REVOCATION_FEED_URL": feed},
			want: &jwtauth.RevocationConfig{URL: feed, Interval: time.Second, MaxStale: 5 * time.Second},
		},
		{
			name: "flags", args: []string{"--issuer", a.Spec(), "--revocation-feed", feed, "--revocation-poll-interval", "500ms", "--revocation-max-stale", "3s"},
			want: &jwtauth.RevocationConfig{URL: feed, Interval: 500 * time.Millisecond, MaxStale: 3 * time.Second},
		},
		{name: "relative URL", args: []string{"--issuer", a.Spec(), "--revocation-feed", "/revocations"}, problem: "not an absolute http(s) URL"},
		{name: "stale below interval", args: []string{"--issuer", a.Spec(), "--revocation-feed", feed, "--revocation-poll-interval", "10s"}, problem: "below the poll interval"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := svcconfig.Load("svc", "svc", tt.args, svctest.MapEnv(tt.env), &bytes.Buffer{})
			if tt.problem != "" {
				if !errors.Is(err, svcconfig.ErrInvalid) || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("Load = %v, want ErrInvalid mentioning %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg.Verifier().Revocations); diff != "" {
				t.Errorf("Verifier().Revocations (-want +got):\n%s", diff)
			}
		})
	}
}
