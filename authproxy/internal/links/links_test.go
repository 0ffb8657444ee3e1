package links_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatewarden/gatewarden/authproxy/internal/links"
	"github.com/gatewarden/gatewarden/hack/testkit"
)

// TestIndex against a real redis-server: a link is found by its kind and
// value only, stores no value, expires with its ttl, and an empty value
// links nothing.
func TestIndex(t *testing.T) {
	t.Parallel()
	rdb := startRedis(t)
	ctx := context.Background()
	x, err := links.New(rdb, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a := links.Target{UserID: "u1", Session: "tag-a"}
	if err := x.Link(ctx, links.RefreshToken, "rt-secret", a); err != nil {
		t.Fatal(err)
	}
	if err := x.Link(ctx, links.ProviderSession, "", a); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		kind   links.Kind
		value  string
		want   links.Target
		wantOK bool
	}{
		{name: "linked", kind: links.RefreshToken, value: "rt-secret", want: a, wantOK: true},
		{name: "same value, other kind", kind: links.ProviderSession, value: "rt-secret"},
		{name: "other value", kind: links.RefreshToken, value: "rt-other"},
		{name: "empty value", kind: links.ProviderSession, value: ""},
	}
	for _, tt := range tests {
		got, ok, err := x.Find(ctx, tt.kind, tt.value)
		if err != nil || ok != tt.wantOK || got != tt.want {
			t.Errorf("%s: Find = %+v %v %v, want %+v %v", tt.name, got, ok, err, tt.want, tt.wantOK)
		}
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("keys %v, want one link", keys)
	}
	if strings.Contains(keys[0], "rt-secret") {
		t.Errorf("key %q names the token", keys[0])
	}
	if v := rdb.Get(ctx, keys[0]).Val(); strings.Contains(v, "rt-secret") {
		t.Errorf("value %q holds the token", v)
	}
	if ttl := rdb.TTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("ttl %v, want (0, 1h]", ttl)
	}
	if _, err := links.New(rdb, "", 0); err == nil {
		t.Errorf("New with ttl 0: no error")
	}
}

// startRedis starts a redis-server for the test and returns a client to it.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testkit.StartRedis(t).Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}
