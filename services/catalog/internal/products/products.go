// Package products is the catalog's product data: a seeded, read-only set
// embedded in the binary (products.json), kept sorted by id for stable
// paging.
package products

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

//go:embed products.json
var seed []byte

// ErrInvalidData is returned when product data fails validation.
var ErrInvalidData = errors.New("products: invalid data")

// Product is one catalog item.
type Product struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
}

// Store is an immutable, id-ordered product list; safe for concurrent use.
type Store struct {
	items []Product
	index map[int64]int
}

// Seeded returns the store holding the embedded seed data.
func Seeded() (*Store, error) { return Parse(seed) }

// Parse builds a store from a JSON array of products, rejecting unknown
// fields and reporting every invalid product at once.
func Parse(data []byte) (*Store, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var items []Product
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	var errs []error
	index := make(map[int64]int, len(items))
	for i, p := range items {
		bad := func(why string) {
			errs = append(errs, fmt.Errorf("%w: product #%d (id %d): %s", ErrInvalidData, i, p.ID, why))
		}
		if p.ID <= 0 {
			bad("id must be positive")
		}
		if _, dup := index[p.ID]; dup {
			bad("duplicate id")
		}
		index[p.ID] = 0
		if p.Name == "" {
			bad("empty name")
		}
		if p.PriceCents < 0 {
			bad("negative price")
		}
		if len(p.Currency) != 3 {
			bad("currency must be a 3-letter code")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(items, func(a, b Product) int { return cmp.Compare(a.ID, b.ID) })
	for i, p := range items {
		index[p.ID] = i
	}
	return &Store{items: items, index: index}, nil
}

// Len returns the number of products.
func (s *Store) Len() int { return len(s.items) }

// Page returns up to limit products starting at offset, in id order, and
// the total count. An offset past the end yields an empty (non-nil) slice.
// The slice is the caller's own.
func (s *Store) Page(limit, offset int) ([]Product, int) {
	total := len(s.items)
	if offset >= total || limit <= 0 || offset < 0 {
		return []Product{}, total
	}
	end := total
	if limit < total-offset {
		end = offset + limit
	}
	return slices.Clone(s.items[offset:end]), total
}

// Get returns the product with id.
func (s *Store) Get(id int64) (Product, bool) {
	i, ok := s.index[id]
	if !ok {
		return Product{}, false
	}
	return s.items[i], true
}
