// Package stock is the inventory's data: branches and what each holds, a
// seeded, read-only set embedded in the binary (branches.json). Product ids
// refer to the catalog's products; names are copied so the inventory
// answers without calling the catalog.
package stock

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

//go:embed branches.json
var seed []byte

// ErrInvalidData is returned when branch data fails validation.
var ErrInvalidData = errors.New("stock: invalid data")

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
}

type branchRecord struct {
	Branch
	Stock []Item `json:"stock"`
}

// Store is immutable and safe for concurrent use.
type Store struct {
	branches []branchRecord // sorted by id
	index    map[int64]int
}

// Seeded returns the store holding the embedded seed data.
func Seeded() (*Store, error) { return Parse(seed) }

// Parse builds a store from a JSON array of branches with their stock,
// rejecting unknown fields and reporting every problem at once.
func Parse(data []byte) (*Store, error) {
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
			if it.Quantity < 0 {
				bad("product %d: negative quantity", it.ProductID)
			}
		}
		slices.SortFunc(recs[i].Stock, func(a, b Item) int { return cmp.Compare(a.ProductID, b.ProductID) })
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b branchRecord) int { return cmp.Compare(a.ID, b.ID) })
	index := make(map[int64]int, len(recs))
	for i, b := range recs {
		index[b.ID] = i
	}
	return &Store{branches: recs, index: index}, nil
}

// Branches returns the branches for which keep returns true, in id order
// (never nil).
func (s *Store) Branches(keep func(id int64) bool) []Branch {
	out := []Branch{}
	for _, b := range s.branches {
		if keep(b.ID) {
			out = append(out, b.Branch)
		}
	}
	return out
}

// Stock returns a branch and its stock (the caller's own copy), ordered by
// product id.
func (s *Store) Stock(id int64) (Branch, []Item, bool) {
	i, ok := s.index[id]
	if !ok {
		return Branch{}, nil, false
	}
	b := s.branches[i]
	items := slices.Clone(b.Stock)
	if items == nil {
		items = []Item{}
	}
	return b.Branch, items, true
}
