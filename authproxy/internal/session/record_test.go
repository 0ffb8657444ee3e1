package session_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestRevokeSIDsAndTag against a real redis-server: RevokeSIDs records
// the ids given (skipping empty ones) and RevokeTag a tag's SID, each
// bumping the version; a malformed tag is ErrNotFound.
func TestRevokeSIDsAndTag(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: testkit.StartRedis(t).Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	store, err := session.NewRedisStore(session.Config{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RevokeSIDs(ctx, "rtid-1", ""); err != nil {
		t.Fatal(err)
	}
	v1, err := store.RevocationVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RevokeTag(ctx, session.Tag(c)); err != nil {
		t.Fatal(err)
	}
	if err := store.RevokeTag(ctx, "not-a-tag"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("RevokeTag of a malformed tag: %v, want ErrNotFound", err)
	}
	rv, err := store.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"rtid-1", session.SID(c)}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(rv.Sessions))
	if !slices.Equal(got, want) {
		t.Errorf("revoked sessions %v, want %v", got, want)
	}
	if v1 == "" || rv.Version == v1 {
		t.Errorf("versions %q then %q: want each write to bump it", v1, rv.Version)
	}
}
