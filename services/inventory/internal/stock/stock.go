// Package stock is the inventory's data: branches and what each holds, in
// the service's own SQL tables (PostgreSQL, or the embedded SQLite
// default). The schema is versioned (migrations/, applied at start by
// services/internal/database); version 2 seeds it from branches.json, the
// list the inventory served before it had a database. Product ids refer to
// the catalog's products; names are copied so the inventory answers without
// calling the catalog.
//
// Two ways to change a quantity, both safe under concurrent writers:
// SetQuantity names the row version it read (optimistic: ErrVersion when
// someone else changed it since), and Adjust adds a delta in one statement
// that refuses to go below zero (ErrInsufficient), so parallel adjustments
// all count.
package stock

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/gatewarden/gatewarden/services/internal/database"
)

//go:embed branches.json
var seed []byte

//go:embed migrations
var migrations embed.FS

// Sentinel errors; the API maps them to HTTP.
var (
	// ErrInvalidData: seed data or a requested change fails validation.
	ErrInvalidData = errors.New("stock: invalid data")
	// ErrNotFound: no such branch, or the product is not stocked there.
	ErrNotFound = errors.New("stock: not found")
	// ErrVersion: the stock row changed since the version the caller read.
	ErrVersion = errors.New("stock: version conflict")
	// ErrInsufficient: the adjustment would take the quantity below zero.
	ErrInsufficient = errors.New("stock: not enough stock")
)

// Limits of quantities and adjustments.
const (
	MaxQuantity = 1_000_000_000
	MaxDelta    = 1_000_000
)

// Branch is a shop.
type Branch struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	City string `json:"city"`
}

// Item is one product's stock at a branch.
type Item struct {
	ProductID int64  `json:"product_id"`
	Name      string `json:"name"`
	Quantity  int    `json:"quantity"`
	Version   int64  `json:"version"`
}

type branchRecord struct {
	Branch
	Stock []Item `json:"stock"`
}

// parseSeed reads the seed (a JSON array of branches with their stock),
// rejecting unknown fields and reporting every problem at once.
func parseSeed(data []byte) ([]branchRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var recs []branchRecord
	if err := dec.Decode(&recs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	var errs []error
	seen := map[int64]bool{}
	for i, b := range recs {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%w: branch #%d (id %d): %s", ErrInvalidData, i, b.ID, fmt.Sprintf(format, args...)))
		}
		if b.ID <= 0 {
			bad("id must be positive")
		}
		if seen[b.ID] {
			bad("duplicate id")
		}
		seen[b.ID] = true
		if b.Name == "" {
			bad("empty name")
		}
		products := map[int64]bool{}
		for _, it := range b.Stock {
			if it.ProductID <= 0 || products[it.ProductID] {
				bad("product id %d is not positive or is listed twice", it.ProductID)
			}
			products[it.ProductID] = true
			if it.Quantity < 0 || it.Quantity > MaxQuantity {
				bad("product %d: quantity out of range", it.ProductID)
			}
			if it.Version != 0 {
				bad("product %d: version is not seed data", it.ProductID)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return recs, nil
}

// Schema is the inventory's migrations: the branches and stock tables, then
// the seed.
func Schema() database.Schema {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return database.Schema{Name: "inventory", SQL: sub, Steps: []database.Step{{Version: 2, Up: seedUp}}}
}

func seedUp(ctx context.Context, tx *sql.Tx, d database.Dialect) error {
	recs, err := parseSeed(seed)
	if err != nil {
		return err
	}
	for _, b := range recs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO branches (id, name, city) VALUES ($1, $2, $3)`, b.ID, b.Name, b.City); err != nil {
			return fmt.Errorf("stock: seed branch %d: %w", b.ID, err)
		}
		for _, it := range b.Stock {
			if _, err := tx.ExecContext(ctx, `INSERT INTO stock (branch_id, product_id, name, quantity) VALUES ($1, $2, $3, $4)`,
				b.ID, it.ProductID, it.Name, it.Quantity); err != nil {
				return fmt.Errorf("stock: seed branch %d product %d: %w", b.ID, it.ProductID, err)
			}
		}
	}
	if d == database.Postgres {
		if _, err := tx.ExecContext(ctx,
			`SELECT setval(pg_get_serial_sequence('branches', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM branches), false)`); err != nil {
			return fmt.Errorf("stock: seed: sequence: %w", err)
		}
	}
	return nil
}

// Store is the branches and stock tables; safe for concurrent use.
type Store struct {
	db *sql.DB
}

// New returns the store over db, which Schema's migrations have prepared.
func New(db *sql.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("stock: new: db is required")
	}
	return &Store{db: db}, nil
}

// Branches returns the branches for which keep returns true, in id order
// (never nil).
func (s *Store) Branches(ctx context.Context, keep func(id int64) bool) ([]Branch, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, city FROM branches ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("stock: branches: %w", err)
	}
	defer rows.Close()
	out := []Branch{}
	for rows.Next() {
		var b Branch
		if err := rows.Scan(&b.ID, &b.Name, &b.City); err != nil {
			return nil, fmt.Errorf("stock: branches: %w", err)
		}
		if keep(b.ID) {
			out = append(out, b)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stock: branches: %w", err)
	}
	return out, nil
}

// Stock returns a branch and its stock ordered by product id, or
// ErrNotFound.
func (s *Store) Stock(ctx context.Context, id int64) (Branch, []Item, error) {
	var b Branch
	err := s.db.QueryRowContext(ctx, `SELECT id, name, city FROM branches WHERE id = $1`, id).Scan(&b.ID, &b.Name, &b.City)
	if errors.Is(err, sql.ErrNoRows) {
		return Branch{}, nil, fmt.Errorf("%w: branch %d", ErrNotFound, id)
	}
	if err != nil {
		return Branch{}, nil, fmt.Errorf("stock: branch %d: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT product_id, name, quantity, version FROM stock WHERE branch_id = $1 ORDER BY product_id`, id)
	if err != nil {
		return Branch{}, nil, fmt.Errorf("stock: branch %d: %w", id, err)
	}
	defer rows.Close()
	items := []Item{}
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.ProductID, &it.Name, &it.Quantity, &it.Version); err != nil {
			return Branch{}, nil, fmt.Errorf("stock: branch %d: %w", id, err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return Branch{}, nil, fmt.Errorf("stock: branch %d: %w", id, err)
	}
	return b, items, nil
}

const itemColumns = `product_id, name, quantity, version`

func scanItem(row *sql.Row) (Item, error) {
	var it Item
	err := row.Scan(&it.ProductID, &it.Name, &it.Quantity, &it.Version)
	return it, err
}

// SetQuantity sets a product's quantity at a branch if the row is still at
// version, and increments the version.
func (s *Store) SetQuantity(ctx context.Context, branch, product int64, quantity int, version int64) (Item, error) {
	if quantity < 0 || quantity > MaxQuantity {
		return Item{}, fmt.Errorf("%w: quantity must be from 0 to %d", ErrInvalidData, MaxQuantity)
	}
	it, err := scanItem(s.db.QueryRowContext(ctx,
		`UPDATE stock SET quantity = $1, version = version + 1
		 WHERE branch_id = $2 AND product_id = $3 AND version = $4 RETURNING `+itemColumns,
		quantity, branch, product, version))
	if errors.Is(err, sql.ErrNoRows) {
		cur, err := s.item(ctx, branch, product)
		if err != nil {
			return Item{}, err
		}
		return Item{}, fmt.Errorf("%w: branch %d product %d is at version %d", ErrVersion, branch, product, cur.Version)
	}
	if err != nil {
		return Item{}, fmt.Errorf("stock: set %d/%d: %w", branch, product, database.Classify(err))
	}
	return it, nil
}

// Adjust adds delta (negative to take out) to a product's quantity at a
// branch in one statement; ErrInsufficient if that would go below zero.
func (s *Store) Adjust(ctx context.Context, branch, product int64, delta int) (Item, error) {
	if delta == 0 || delta < -MaxDelta || delta > MaxDelta {
		return Item{}, fmt.Errorf("%w: delta must be non-zero, from -%d to %d", ErrInvalidData, MaxDelta, MaxDelta)
	}
	it, err := scanItem(s.db.QueryRowContext(ctx,
		`UPDATE stock SET quantity = quantity + $1, version = version + 1
		 WHERE branch_id = $2 AND product_id = $3 AND quantity + $1 >= 0 AND quantity + $1 <= $4 RETURNING `+itemColumns,
		delta, branch, product, MaxQuantity))
	if errors.Is(err, sql.ErrNoRows) {
		cur, err := s.item(ctx, branch, product)
		if err != nil {
			return Item{}, err
		}
		if delta > 0 {
			return Item{}, fmt.Errorf("%w: quantity would exceed %d", ErrInvalidData, MaxQuantity)
		}
		return Item{}, fmt.Errorf("%w: branch %d has %d of product %d", ErrInsufficient, branch, cur.Quantity, product)
	}
	if err != nil {
		return Item{}, fmt.Errorf("stock: adjust %d/%d: %w", branch, product, database.Classify(err))
	}
	return it, nil
}

func (s *Store) item(ctx context.Context, branch, product int64) (Item, error) {
	it, err := scanItem(s.db.QueryRowContext(ctx,
		`SELECT `+itemColumns+` FROM stock WHERE branch_id = $1 AND product_id = $2`, branch, product))
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, fmt.Errorf("%w: branch %d does not stock product %d", ErrNotFound, branch, product)
	}
	if err != nil {
		return Item{}, fmt.Errorf("stock: item %d/%d: %w", branch, product, err)
	}
	return it, nil
}
