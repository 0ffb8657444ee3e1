package svctest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit/pgserver"
	"github.com/gatewarden/gatewarden/services/internal/database"
)

// Postgres is a throwaway PostgreSQL server (hack/testkit/pgserver) started
// for one test.
type Postgres struct {
	srv *pgserver.Server
	n   atomic.Int64
}

// StartPostgres starts a PostgreSQL server for the test, stopped and removed
// at cleanup. Without the binaries the test is skipped, unless CI is set,
// where it fails: CI installs them.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx)
	if errors.Is(err, pgserver.ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &Postgres{srv: srv}
}

// Stop stops the server now (an outage); cleanup does nothing more.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if err := p.srv.Close(); err != nil {
		t.Fatal(err)
	}
}

// NewDatabase creates an empty database and returns its URL.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	url, err := p.srv.CreateDatabase(context.Background(), fmt.Sprintf("test_%d", p.n.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// Backend is one database a test runs against.
type Backend struct {
	Name string // "sqlite" or "postgres"
	URL  string // for database.ParseURL / --database
}

// Backends returns a fresh database of each kind: the embedded SQLite
// default (in memory) and, when pg is not nil, a new PostgreSQL database.
func Backends(t testing.TB, pg *Postgres) []Backend {
	t.Helper()
	out := []Backend{{Name: "sqlite", URL: "sqlite::memory:"}}
	if pg != nil {
		out = append(out, Backend{Name: "postgres", URL: pg.NewDatabase(t)})
	}
	return out
}

// OpenDB opens and migrates the database at url with schema, closed when
// the test ends.
func OpenDB(t testing.TB, url string, schema database.Schema) *database.DB {
	t.Helper()
	src, err := database.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := database.Open(context.Background(), src, schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Race runs fn(0) ... fn(n-1) at once and returns how many returned nil;
// every other error must satisfy lost (the expected refusal, such as a
// version conflict), else the test fails.
func Race(t testing.TB, n int, fn func(i int) error, lost func(error) bool) (won int) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !lost(err):
			t.Errorf("writer failed with %v", err)
		}
	}
	return won
}
