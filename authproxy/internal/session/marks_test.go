package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

func TestEventMarks(t *testing.T) {
	t.Parallel()
	rdb, forward := miniClient(t)
	m := session.NewEventMarks(rdb, "")
	ctx := context.Background()
	seen := func(id string) bool {
		t.Helper()
		ok, err := m.Seen(ctx, id)
		if err != nil {
			t.Fatalf("Seen(%q): %v", id, err)
		}
		return ok
	}
	if seen("e1") {
		t.Fatal("e1 seen before Mark")
	}
	if err := m.Mark(ctx, "e1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if !seen("e1") || seen("e2") {
		t.Fatalf("after Mark(e1): seen e1 %v, e2 %v; want true, false", seen("e1"), seen("e2"))
	}
	forward(time.Minute + time.Second)
	if seen("e1") {
		t.Fatal("e1 still seen after its ttl")
	}
	if err := m.Mark(ctx, "", time.Minute); err == nil {
		t.Fatal("Mark with an empty id succeeded")
	}
	_ = rdb.Close()
	if _, err := m.Seen(ctx, "e1"); err == nil {
		t.Fatal("Seen on a closed client succeeded")
	}
}
