package svctest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"

	"github.com/gatewarden/gatewarden/services/internal/database"
)

// Postgres is a throwaway PostgreSQL server started by StartPostgres: its
// own data directory in a temporary folder, 127.0.0.1 and a free port, trust
// authentication, durability off (fsync) for speed.
type Postgres struct {
	Port int
	n    atomic.Int64
	db   *sql.DB // to the postgres database, for CREATE DATABASE
}

// PostgresBinDir finds the server binaries: $POSTGRES_BIN, else the newest
// /usr/lib/postgresql/*/bin (Debian's layout), else the folder of initdb
// on PATH. "" when there is none.
func PostgresBinDir() string {
	if d := os.Getenv("POSTGRES_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// StartPostgres starts a PostgreSQL server for the test (stopped and
// removed at cleanup). Without the binaries the test is skipped, unless CI
// is set, where it fails: CI installs them. PostgreSQL refuses to run as
// root, so as root the server runs as the "postgres" user (Debian's package
// creates it) or "nobody".
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := PostgresBinDir()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL binaries not found (apt-get install postgresql, or set POSTGRES_BIN)")
		}
		t.Skip("PostgreSQL binaries not found (apt-get install postgresql, or set POSTGRES_BIN)")
	}
	dir, err := os.MkdirTemp("", "svctest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cred, err := postgresCredential(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "LC_ALL=C"}
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}
	if out, err := run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--no-instructions").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	logFile := filepath.Join(dir, "postgres.log")
	logw, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := run("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	srv.Stdout, srv.Stderr = logw, logw
	if err := srv.Start(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
		_ = logw.Close()
	})
	p := &Postgres{Port: port}
	db, err := sql.Open("pgx", p.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(logFile)
			t.Fatalf("postgres exited: %v\n%s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("postgres not ready after 30s: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.db = db
	return p
}

func (p *Postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// NewDatabase creates an empty database and returns its URL.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", p.n.Add(1))
	if _, err := p.db.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return p.url(name)
}

// postgresCredential: nil when not root; else the postgres (or nobody)
// user, given ownership of dir.
func postgresCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("running as root and neither the postgres nor the nobody user exists")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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
