// Package products is the catalog's product data, kept in the service's
// own SQL table (PostgreSQL, or the embedded SQLite default). The schema is
// versioned (migrations/, applied at start by services/internal/database);
// version 2 seeds the table from products.json, the list the catalog served
// before it had a database.
//
// Every row carries a version that each update increments: an update names
// the version it read and fails with ErrVersion if someone else got there
// first, so concurrent edits never silently overwrite each other.
package products

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode/utf8"

	"github.com/gatewarden/gatewarden/services/internal/database"
)

//go:embed products.json
var seed []byte

//go:embed migrations
var migrations embed.FS

// Sentinel errors; the API maps them to HTTP.
var (
	// ErrInvalidData: seed data or a product's fields fail validation.
	ErrInvalidData = errors.New("products: invalid data")
	// ErrNotFound: no product with that id.
	ErrNotFound = errors.New("products: not found")
	// ErrVersion: the product changed since the version the caller read.
	ErrVersion = errors.New("products: version conflict")
)

// Limits of a product's fields.
const (
	MaxName        = 200
	MaxDescription = 2000
	MaxCategory    = 50
	MaxPriceCents  = 1_000_000_00 // one million in the currency's major unit
)

// Product is one catalog item.
type Product struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
	Version     int64  `json:"version"`
}

// Fields are what a create or update sets.
type Fields struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
}

// Validate reports every problem with f at once, wrapping ErrInvalidData;
// each line names the field.
func (f Fields) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidData}, args...)...))
	}
	switch n := utf8.RuneCountInString(f.Name); {
	case strings.TrimSpace(f.Name) == "":
		bad("name: must not be empty")
	case n > MaxName:
		bad("name: at most %d characters", MaxName)
	}
	if utf8.RuneCountInString(f.Description) > MaxDescription {
		bad("description: at most %d characters", MaxDescription)
	}
	if utf8.RuneCountInString(f.Category) > MaxCategory {
		bad("category: at most %d characters", MaxCategory)
	}
	if f.PriceCents < 0 || f.PriceCents > MaxPriceCents {
		bad("price_cents: must be from 0 to %d", MaxPriceCents)
	}
	if !isCurrency(f.Currency) {
		bad("currency: must be a 3-letter upper-case code such as EUR")
	}
	for _, s := range []string{f.Name, f.Description, f.Category} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			bad("text fields must be valid UTF-8 without NUL")
			break
		}
	}
	return errors.Join(errs...)
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// Parse reads a JSON array of products (the seed format), rejecting unknown
// fields and reporting every invalid product at once.
func Parse(data []byte) ([]Product, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var items []Product
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	var errs []error
	seen := make(map[int64]bool, len(items))
	for i, p := range items {
		bad := func(why string) {
			errs = append(errs, fmt.Errorf("%w: product #%d (id %d): %s", ErrInvalidData, i, p.ID, why))
		}
		if p.ID <= 0 {
			bad("id must be positive")
		}
		if seen[p.ID] {
			bad("duplicate id")
		}
		seen[p.ID] = true
		if err := p.fields().Validate(); err != nil {
			bad(err.Error())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return items, nil
}

func (p Product) fields() Fields {
	return Fields{Name: p.Name, Description: p.Description, PriceCents: p.PriceCents, Currency: p.Currency, Category: p.Category}
}

// Schema is the catalog's migrations: the products table, then the seed.
func Schema() database.Schema {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return database.Schema{Name: "catalog", SQL: sub, Steps: []database.Step{{Version: 2, Up: seedUp}}}
}

func seedUp(ctx context.Context, tx *sql.Tx, d database.Dialect) error {
	items, err := Parse(seed)
	if err != nil {
		return err
	}
	for _, p := range items {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO products (id, name, description, price_cents, currency, category) VALUES ($1, $2, $3, $4, $5, $6)`,
			p.ID, p.Name, p.Description, p.PriceCents, p.Currency, p.Category); err != nil {
			return fmt.Errorf("products: seed %d: %w", p.ID, err)
		}
	}
	if d == database.Postgres {
		// Explicit ids leave the identity sequence behind: move it past them.
		if _, err := tx.ExecContext(ctx,
			`SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM products), false)`); err != nil {
			return fmt.Errorf("products: seed: sequence: %w", err)
		}
	}
	return nil
}

// Query selects a page of products.
type Query struct {
	// Search, when not empty, keeps products whose name, description or
	// category contains it (case-insensitive).
	Search string
	Limit  int
	Offset int
}

// Store is the products table. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// New returns the store over db, which Schema's migrations have prepared.
func New(db *sql.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("products: new: db is required")
	}
	return &Store{db: db}, nil
}

const columns = `id, name, description, price_cents, currency, category, version`

func scan(row interface{ Scan(...any) error }) (Product, error) {
	var p Product
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.PriceCents, &p.Currency, &p.Category, &p.Version)
	return p, err
}

// List returns a page of products in id order and how many match in all.
// The slice is never nil.
func (s *Store) List(ctx context.Context, q Query) ([]Product, int, error) {
	where, args := "", []any{}
	if q.Search != "" {
		where = ` WHERE lower(name) LIKE $1 ESCAPE '\' OR lower(description) LIKE $1 ESCAPE '\' OR lower(category) LIKE $1 ESCAPE '\'`
		args = append(args, database.LikePattern(q.Search))
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM products`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("products: count: %w", err)
	}
	items := []Product{}
	if q.Limit <= 0 || q.Offset < 0 || q.Offset >= total {
		return items, total, nil
	}
	n := len(args)
	rows, err := s.db.QueryContext(ctx,
		fmt.Sprintf(`SELECT %s FROM products%s ORDER BY id LIMIT $%d OFFSET $%d`, columns, where, n+1, n+2),
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("products: list: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scan(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("products: list: %w", err)
		}
		items = append(items, p)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("products: list: %w", err)
	}
	return items, total, nil
}

// Get returns one product, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Product, error) {
	p, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM products WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Product{}, fmt.Errorf("products: get %d: %w", id, err)
	}
	return p, nil
}

// Create validates f and inserts a product with a new id and version 1.
func (s *Store) Create(ctx context.Context, f Fields) (Product, error) {
	if err := f.Validate(); err != nil {
		return Product{}, err
	}
	p, err := scan(s.db.QueryRowContext(ctx,
		`INSERT INTO products (name, description, price_cents, currency, category) VALUES ($1, $2, $3, $4, $5) RETURNING `+columns,
		f.Name, f.Description, f.PriceCents, f.Currency, f.Category))
	if err != nil {
		return Product{}, fmt.Errorf("products: create: %w", database.Classify(err))
	}
	return p, nil
}

// Update sets product id's fields if its version is still version, and
// increments the version. ErrNotFound: no such product; ErrVersion: it has
// changed since.
func (s *Store) Update(ctx context.Context, id, version int64, f Fields) (Product, error) {
	if err := f.Validate(); err != nil {
		return Product{}, err
	}
	p, err := scan(s.db.QueryRowContext(ctx,
		`UPDATE products SET name = $1, description = $2, price_cents = $3, currency = $4, category = $5, version = version + 1
		 WHERE id = $6 AND version = $7 RETURNING `+columns,
		f.Name, f.Description, f.PriceCents, f.Currency, f.Category, id, version))
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, s.whyNot(ctx, id)
	}
	if err != nil {
		return Product{}, fmt.Errorf("products: update %d: %w", id, database.Classify(err))
	}
	return p, nil
}

// Delete removes product id. ErrNotFound when there is none.
func (s *Store) Delete(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM products WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("products: delete %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("products: delete %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return nil
}

// whyNot explains a conditional update that matched no row.
func (s *Store) whyNot(ctx context.Context, id int64) error {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: product %d is at version %d", ErrVersion, id, cur.Version)
}
