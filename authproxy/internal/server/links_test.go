package server

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/authproxy/internal/links"
	"github.com/gatewarden/gatewarden/authproxy/internal/oidc"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

type recordedLinks struct {
	got  map[links.Kind]links.Target
	vals map[links.Kind]string
	fail bool
}

func (r *recordedLinks) Link(_ context.Context, kind links.Kind, value string, t links.Target) error {
	if r.fail {
		return errors.New("redis down")
	}
	if value == "" {
		return nil // as links.Index: an empty value links nothing
	}
	r.got[kind], r.vals[kind] = t, value
	return nil
}

// TestLinker: a login's refresh token and provider session id are linked
// to the session's tag and user; a failed link does not fail (it is
// logged); no links configured is a no-op.
func TestLinker(t *testing.T) {
	t.Parallel()
	cookie := session.NewCookie()
	want := links.Target{UserID: "u1", Session: session.Tag(cookie)}
	r := &recordedLinks{got: map[links.Kind]links.Target{}, vals: map[links.Kind]string{}}
	l := linker{links: r, log: slog.New(slog.DiscardHandler)}
	l.link(context.Background(), cookie, "u1", &oidc.Tokens{RefreshToken: "rt", ProviderSession: "sid"})
	if d := cmp.Diff(map[links.Kind]links.Target{links.RefreshToken: want, links.ProviderSession: want}, r.got); d != "" {
		t.Errorf("links (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[links.Kind]string{links.RefreshToken: "rt", links.ProviderSession: "sid"}, r.vals); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}
	if want.Session == "" {
		t.Fatal("session.Tag of a new cookie is empty")
	}
	linker{links: &recordedLinks{fail: true}, log: slog.New(slog.DiscardHandler)}.link(context.Background(), cookie, "u1", &oidc.Tokens{RefreshToken: "rt"})
	linker{}.link(context.Background(), cookie, "u1", &oidc.Tokens{RefreshToken: "rt"})
}
