// Package pgserver starts a throwaway PostgreSQL server from the machine's
// own binaries (Debian's postgresql package): a fresh data directory in a
// temporary folder, 127.0.0.1 and a free port, trust authentication, and
// durability off (fsync) for speed. It is the one place that knows how; the
// services' tests use it through svctest.StartPostgres, the local stack's
// end-to-end suite directly. Not for production data.
//
// PostgreSQL refuses to run as root, so as root the server runs as the
// "postgres" user (the Debian package creates it), else "nobody".
package pgserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gatewarden/gatewarden/hack/testkit"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
)

// ErrNotInstalled: no PostgreSQL server binaries were found.
var ErrNotInstalled = errors.New("pgserver: PostgreSQL binaries not found (apt-get install postgresql, or set POSTGRES_BIN)")

// BinDir finds the server binaries: $POSTGRES_BIN, else the newest
// /usr/lib/postgresql/*/bin (Debian's layout), else the folder of initdb on
// PATH. "" when there is none.
func BinDir() string {
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

// Server is a running PostgreSQL. Close stops it and removes its data.
type Server struct {
	Port   int
	dir    string
	cmd    *exec.Cmd
	exited chan error
	db     *sql.DB // to the postgres database, for CREATE DATABASE
	once   sync.Once
	err    error
}

// Start initialises a data directory and starts the server, waiting until it
// accepts connections (ctx bounds the wait).
func Start(ctx context.Context) (*Server, error) {
	bin := BinDir()
	if bin == "" {
		return nil, ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "pgserver-")
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	s := &Server{dir: dir}
	fail := func(err error) (*Server, error) {
		_ = s.Close()
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		return fail(err)
	}
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "LC_ALL=C"}
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--no-instructions").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgserver: initdb: %w\n%s", err, out))
	}
	if s.Port, err = testkit.PickPort(); err != nil {
		return fail(err)
	}
	logPath := filepath.Join(dir, "postgres.log")
	logw, err := os.Create(logPath)
	if err != nil {
		return fail(fmt.Errorf("pgserver: %w", err))
	}
	defer logw.Close() // the child keeps its own descriptor
	s.cmd = command("postgres", "-D", data, "-p", strconv.Itoa(s.Port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	s.cmd.Stdout, s.cmd.Stderr = logw, logw
	if err := s.cmd.Start(); err != nil {
		return fail(fmt.Errorf("pgserver: postgres: %w", err))
	}
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	if s.db, err = sql.Open("pgx", s.URL("postgres")); err != nil {
		return fail(fmt.Errorf("pgserver: %w", err))
	}
	err = testkit.Poll(ctx, "postgres to accept connections", 0, 50*time.Millisecond, func(ctx context.Context) error {
		select {
		case werr := <-s.exited:
			s.exited <- werr
			return testkit.Abort(fmt.Errorf("postgres exited: %v", werr))
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return s.db.PingContext(pctx)
	})
	if err != nil {
		log, _ := os.ReadFile(logPath)
		return fail(fmt.Errorf("pgserver: postgres not ready: %w\n%s", err, log))
	}
	return s, nil
}

// URL is the connection URL of database db.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

var dbName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if !dbName.MatchString(name) {
		return "", fmt.Errorf("pgserver: database name %q: want lower-case letters, digits and _", name)
	}
	if _, err := s.db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgserver: create database %s: %w", name, err)
	}
	return s.URL(name), nil
}

// Close stops the server (a fast shutdown, then a kill after 10 s) and
// removes its data directory. Closing again does nothing.
func (s *Server) Close() error {
	s.once.Do(func() { s.err = s.close() })
	return s.err
}

func (s *Server) close() error {
	if s.db != nil {
		_ = s.db.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	return os.RemoveAll(s.dir)
}

// credential: nil when not root; else the postgres (or nobody) user, given
// ownership of dir.
func credential(dir string) (*syscall.Credential, error) {
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
		return nil, errors.New("pgserver: running as root and neither the postgres nor the nobody user exists")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}
