package sessiontest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/session"
)

// TestMemory: the in-memory store keeps the contract the Redis store keeps.
func TestMemory(t *testing.T) {
	t.Parallel()
	RunContract(t, func(_ *testing.T, o Options) Env {
		m := NewMemory(o)
		return Env{Store: m, States: m}
	})
}

// TestMemoryDown: while down every call fails as with Redis unreachable
// (ErrUnavailable, after the cookie's own check), and afterwards the store
// answers again with what it held.
func TestMemoryDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m := NewMemory(Options{})
	cookie, err := m.Create(ctx, sample("u1"))
	if err != nil {
		t.Fatal(err)
	}
	m.SetDown(true)
	calls := []struct {
		name string
		call func() error
	}{
		{name: "ping", call: func() error { return m.Ping(ctx) }},
		{name: "create", call: func() error { _, err := m.Create(ctx, sample("u2")); return err }},
		{name: "load", call: func() error { _, err := m.Load(ctx, cookie); return err }},
		{name: "save", call: func() error { return m.Save(ctx, cookie, sample("u1")) }},
		{name: "delete", call: func() error { return m.Delete(ctx, cookie) }},
		{name: "delete user", call: func() error { return m.DeleteUser(ctx, "u1") }},
		{name: "lock", call: func() error { _, err := m.Lock(ctx, cookie, time.Second); return err }},
		{name: "spend", call: func() error { return m.Spend(ctx, "state", time.Minute) }},
	}
	before := m.Calls()
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("%s while down = %v; want ErrUnavailable", c.name, err)
		}
	}
	if got := m.Calls() - before; got != int64(len(calls)) {
		t.Errorf("Calls counted %d calls; want %d", got, len(calls))
	}
	if _, err := m.Load(ctx, "malformed"); !errors.Is(err, session.ErrMalformedCookie) {
		t.Errorf("malformed cookie while down = %v; want ErrMalformedCookie", err)
	}
	if n := len(m.Markers()); n != 0 {
		t.Errorf("a spend while down left %d markers", n)
	}
	m.SetDown(false)
	if s, err := m.Load(ctx, cookie); err != nil || s.UserID != "u1" {
		t.Fatalf("Load after recovery = %v, %v", s, err)
	}
	if err := m.Spend(ctx, "state", time.Minute); err != nil {
		t.Fatal(err)
	}
	if left, ok := m.Markers()["state"]; !ok || left <= 0 || left > time.Minute {
		t.Errorf("marker left %v, %v; want (0, 1m]", left, ok)
	}
}
