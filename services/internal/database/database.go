// Package database opens a service's SQL database and brings its schema up
// to date. Two backends share one code path (database/sql):
//
//   - PostgreSQL (postgres:// or postgresql:// URLs) through pgx/v5's
//     database/sql driver, the production database;
//   - SQLite through modernc.org/sqlite, a pure-Go build of SQLite, the
//     embedded default ("" or sqlite::memory:, or sqlite:<file>), so a
//     service runs with nothing but its binary.
//
// Migrations are versioned with goose: each service embeds one folder of
// SQL files per dialect (postgres/, sqlite/) plus Go steps (seed data), and
// Open applies the pending ones at start. On PostgreSQL a session advisory
// lock serialises replicas that start together. Each service records its
// versions in its own table (<service>_schema_migrations), so two services
// may share a database without touching each other's tables.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // driver "sqlite"
)

// Dialect names the SQL backend.
type Dialect string

// Supported dialects; the values are also the migration folder names.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Memory is the embedded default: an in-memory SQLite database that lives as
// long as the process.
const Memory = "sqlite::memory:"

// ErrInvalidURL wraps every problem with a database URL.
var ErrInvalidURL = errors.New("database: invalid URL")

// Source is a parsed database URL.
type Source struct {
	Dialect Dialect
	dsn     string // what the driver gets
	shown   string // safe to log
}

// ParseURL reads a database URL: postgres://user@host:5432/db?sslmode=...
// (passwords are better given as PGPASSWORD), sqlite:<file> or
// sqlite::memory:. An empty URL means Memory.
func ParseURL(raw string) (Source, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = Memory
	}
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil {
			return Source{}, fmt.Errorf("%w: %w", ErrInvalidURL, redactErr(err, raw))
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return Source{}, fmt.Errorf("%w: postgres URL %s has no host", ErrInvalidURL, u.Redacted())
		}
		return Source{Dialect: Postgres, dsn: raw, shown: u.Redacted()}, nil
	case strings.HasPrefix(raw, "sqlite:"):
		path := strings.TrimPrefix(raw, "sqlite:")
		if path == "" {
			return Source{}, fmt.Errorf("%w: sqlite: needs a file name or :memory:", ErrInvalidURL)
		}
		if strings.ContainsAny(path, "?#") {
			return Source{}, fmt.Errorf("%w: sqlite file name %q must not contain ? or #", ErrInvalidURL, path)
		}
		// Writers wait for each other instead of failing with SQLITE_BUSY,
		// and a write transaction takes the write lock at BEGIN, so two
		// read-then-write transactions cannot deadlock.
		opts := "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
		if path != ":memory:" {
			opts += "&_pragma=journal_mode(WAL)"
		}
		return Source{Dialect: SQLite, dsn: "file:" + path + opts, shown: raw}, nil
	}
	return Source{}, fmt.Errorf("%w: want postgres://..., postgresql://..., sqlite:<file> or %s", ErrInvalidURL, Memory)
}

// redactErr keeps a URL's password out of url.Parse's error text.
func redactErr(err error, raw string) error {
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil {
		msg = strings.ReplaceAll(msg, raw, u.Redacted())
	} else {
		msg = "malformed URL"
	}
	return errors.New(msg)
}

// String is the URL without its password.
func (s Source) String() string { return s.shown }

// LogValue implements slog.LogValuer without the password.
func (s Source) LogValue() slog.Value { return slog.StringValue(s.shown) }

// Step is a Go migration: it runs in the migration's transaction and is told
// the dialect (seed data, sequence resets).
type Step struct {
	Version int64
	Up      func(ctx context.Context, tx *sql.Tx, d Dialect) error
}

// Schema is a service's migrations.
type Schema struct {
	// Name prefixes the version table: <Name>_schema_migrations.
	Name string
	// SQL holds the folders postgres/ and sqlite/ of goose SQL files
	// (NNNNN_name.sql with -- +goose Up / Down sections).
	SQL fs.FS
	// Steps are Go migrations; their versions must not collide with the
	// SQL files'.
	Steps []Step
}

// DB is an open, migrated database.
type DB struct {
	*sql.DB
	Dialect Dialect
	Source  Source
}

// Open connects to src, applies schema's pending migrations and returns the
// database. The caller closes it.
func Open(ctx context.Context, src Source, schema Schema, logger *slog.Logger) (*DB, error) {
	return OpenTraced(ctx, src, schema, logger, nil)
}

// OpenTraced is Open with a span for every statement run outside a
// transaction (see traced) when tracer is not nil.
func OpenTraced(ctx context.Context, src Source, schema Schema, logger *slog.Logger, tracer trace.Tracer) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	driver := "pgx"
	if src.Dialect == SQLite {
		driver = "sqlite"
	}
	db, err := sql.Open(driver, src.dsn)
	if err == nil && tracer != nil {
		drv := db.Driver()
		_ = db.Close() // opened nothing yet: sql.Open only looked the driver up
		if db, err = traced(drv, src.dsn, src.Dialect, tracer); err != nil {
			err = redactErr(err, src.dsn)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("database: open %s: %w", src, err)
	}
	if src.Dialect == SQLite {
		// One connection: an in-memory database lives in its connection,
		// and SQLite writes one at a time anyway.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(10)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("database: connect %s: %w", src, err)
	}
	d := &DB{DB: db, Dialect: src.Dialect, Source: src}
	if err := d.migrate(pctx, schema, logger); err != nil {
		_ = db.Close()
		return nil, err
	}
	return d, nil
}

func (d *DB) migrate(ctx context.Context, schema Schema, logger *slog.Logger) error {
	sub, err := fs.Sub(schema.SQL, string(d.Dialect))
	if err != nil {
		return fmt.Errorf("database: migrations: %w", err)
	}
	opts := []goose.ProviderOption{
		goose.WithTableName(schema.Name + "_schema_migrations"),
		goose.WithDisableGlobalRegistry(true),
	}
	for _, st := range schema.Steps {
		up := st.Up
		opts = append(opts, goose.WithGoMigrations(goose.NewGoMigration(st.Version,
			&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return up(ctx, tx, d.Dialect) }}, nil)))
	}
	dialect := goose.DialectSQLite3
	if d.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// Replicas starting together: one migrates, the others wait.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("database: migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, d.DB, sub, opts...)
	if err != nil {
		return fmt.Errorf("database: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("database: migrate: %w", err)
	}
	version, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("database: migrations: %w", err)
	}
	logger.InfoContext(ctx, "database ready", slog.String("dialect", string(d.Dialect)),
		slog.Any("url", d.Source), slog.Int("applied", len(results)), slog.Int64("schema_version", version))
	return nil
}

// Sentinel errors that stores map driver errors to.
var (
	// ErrConstraint: a CHECK, NOT NULL or foreign key constraint failed.
	ErrConstraint = errors.New("database: constraint violated")
	// ErrDuplicate: a unique constraint failed.
	ErrDuplicate = errors.New("database: duplicate key")
)

// Classify wraps err with ErrDuplicate or ErrConstraint when the driver
// reports such a violation (PostgreSQL SQLSTATE 23505 / 23xxx; SQLite's
// constraint messages), and returns it unchanged otherwise.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		switch st := coded.SQLState(); {
		case st == "23505":
			return fmt.Errorf("%w: %w", ErrDuplicate, err)
		case strings.HasPrefix(st, "23"):
			return fmt.Errorf("%w: %w", ErrConstraint, err)
		}
		return err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "UNIQUE constraint failed"), strings.Contains(msg, "PRIMARY KEY constraint failed"):
		return fmt.Errorf("%w: %w", ErrDuplicate, err)
	case strings.Contains(msg, "constraint failed"):
		return fmt.Errorf("%w: %w", ErrConstraint, err)
	}
	return err
}

// LikePattern turns a search text into a case-insensitive substring LIKE
// pattern for "lower(col) LIKE $n ESCAPE '\'": the text is lower-cased and
// its %, _ and \ are escaped.
func LikePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}
