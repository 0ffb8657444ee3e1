package links_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/links"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/redis/go-redis/v9"
)

// TestEnderEndsExactlyTheLinkedSession against a real redis-server: of a
// user's two sessions only the one holding the refresh token ends, every
// replica is told (the invalidation arrives on the channel), an event for
// another user ends nothing, and ending it again is a no-op.
func TestEnderEndsExactlyTheLinkedSession(t *testing.T) {
	t.Parallel()
	rdb, store, idx := startStoreAndIndex(t)
	ctx := context.Background()
	sub := rdb.Subscribe(ctx, session.DefaultChannel)
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	e := links.Ender{Index: idx, Store: store, Replica: session.NewInvalidator(rdb, "")}
	a, err := store.Create(ctx, &session.Session{UserID: "u1", RefreshToken: "rt-a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.Create(ctx, &session.Session{UserID: "u1", RefreshToken: "rt-b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Link(ctx, links.RefreshToken, "rt-a", links.Target{UserID: "u1", Session: session.Tag(a)}); err != nil {
		t.Fatal(err)
	}

	if ended, err := e.End(ctx, links.RefreshToken, "rt-a", "u2"); ended || err != nil {
		t.Fatalf("End for another user = %v, %v; want nothing", ended, err)
	}
	if _, err := store.Load(ctx, a); err != nil {
		t.Fatalf("session a after another user's event: %v", err)
	}
	if ended, err := e.End(ctx, links.RefreshToken, "rt-a", "u1"); !ended || err != nil {
		t.Fatalf("End = %v, %v; want ended", ended, err)
	}
	if _, err := store.Load(ctx, a); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("session a after End: %v, want ErrNotFound", err)
	}
	if _, err := store.Load(ctx, b); err != nil {
		t.Errorf("session b after End of a: %v", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msg, err := sub.ReceiveMessage(rctx)
	if err != nil || msg.Payload != "s:"+session.Tag(a) {
		t.Errorf("invalidation %v %v, want s:<tag of a>", msg, err)
	}
	if ended, err := e.End(ctx, links.RefreshToken, "rt-a", ""); ended || err != nil {
		t.Errorf("End again = %v, %v; want a no-op", ended, err)
	}
	if ended, err := e.End(ctx, links.RefreshToken, "rt-unknown", "u1"); ended || err != nil {
		t.Errorf("End of an unlinked token = %v, %v; want nothing", ended, err)
	}
}

// TestEndLinkedRecordsAGoneSession against a real redis-server: a link to
// a session its user's index no longer holds is Linked but not Ended, and
// its revocation (the session's SID) is recorded all the same; a value no
// link names, or a link to another user's session, is not Linked.
func TestEndLinkedRecordsAGoneSession(t *testing.T) {
	t.Parallel()
	rdb, store, idx := startStoreAndIndex(t)
	ctx := context.Background()
	e := links.Ender{Index: idx, Store: store, Replica: session.NewInvalidator(rdb, ""), Revoker: store}
	c, err := store.Create(ctx, &session.Session{UserID: "u2", RefreshToken: "rt-c"})
	if err != nil {
		t.Fatal(err)
	}
	// A link naming u1 and a tag u1's index does not hold.
	if err := idx.Link(ctx, links.RefreshToken, "rt-stale", links.Target{UserID: "u1", Session: session.Tag(c)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, value, user string
		want              links.Outcome
	}{
		{name: "unlinked", value: "rt-none", user: "u1"},
		{name: "linked to another user", value: "rt-stale", user: "u3"},
		{name: "linked, not indexed", value: "rt-stale", user: "u1", want: links.Outcome{Linked: true}},
	}
	for _, tt := range tests {
		got, err := e.EndLinked(ctx, links.RefreshToken, tt.value, tt.user)
		if err != nil || got != tt.want {
			t.Errorf("%s: EndLinked = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	rv, err := store.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rv.Sessions, session.SID(c)) {
		t.Errorf("revoked sessions %v lack the linked session's SID", rv.Sessions)
	}
	if _, err := store.Load(ctx, c); err != nil {
		t.Errorf("u2's session after a link naming it for u1: %v", err)
	}
}

// TestEndUser against a real redis-server: every session of the user ends
// and is counted, every replica is told (a user invalidation arrives on the
// channel), and ending a user without sessions counts none.
func TestEndUser(t *testing.T) {
	t.Parallel()
	rdb, store, _ := startStoreAndIndex(t)
	ctx := context.Background()
	sub := rdb.Subscribe(ctx, session.DefaultChannel)
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	e := links.Ender{Store: store, Replica: session.NewInvalidator(rdb, ""), Users: store}
	var cookies []string
	for range 2 {
		c, err := store.Create(ctx, &session.Session{UserID: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		cookies = append(cookies, c)
	}
	if n, err := e.EndUser(ctx, "u1"); n != 2 || err != nil {
		t.Fatalf("EndUser = %d, %v; want 2", n, err)
	}
	for _, c := range cookies {
		if _, err := store.Load(ctx, c); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("session after EndUser: %v, want ErrNotFound", err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if msg, err := sub.ReceiveMessage(rctx); err != nil || !strings.HasPrefix(msg.Payload, "u:") {
		t.Errorf("invalidation %v %v, want a user's", msg, err)
	}
	if n, err := e.EndUser(ctx, "u2"); n != 0 || err != nil {
		t.Errorf("EndUser of a user without sessions = %d, %v; want 0", n, err)
	}
}

// startStoreAndIndex is a session store and a links index on a
// redis-server of the test's own.
func startStoreAndIndex(t *testing.T) (*redis.Client, *session.RedisStore, *links.Index) {
	t.Helper()
	rdb := startRedis(t)
	store, err := session.NewRedisStore(session.Config{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := links.New(rdb, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return rdb, store, idx
}
