package pgserver

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx)
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	url, err := s.CreateDatabase(ctx, "shop_1")
	if err != nil || !strings.HasSuffix(url, "/shop_1?sslmode=disable") {
		t.Fatalf("CreateDatabase = %q, %v", url, err)
	}
	for _, bad := range []string{"Shop", "a;DROP DATABASE postgres", "", "1a", strings.Repeat("a", 64)} {
		if _, err := s.CreateDatabase(ctx, bad); err == nil {
			t.Errorf("CreateDatabase(%q) accepted", bad)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("data directory left behind: %v", err)
	}
}
