package stock_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/gatewarden/gatewarden/services/internal/svctest"
	"github.com/gatewarden/gatewarden/services/inventory/internal/stock"
)

func open(t *testing.T, url string) *stock.Store {
	t.Helper()
	s, err := stock.New(svctest.OpenDB(t, url, stock.Schema()).DB)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStore runs the same suite against the embedded SQLite default and a
// real PostgreSQL, including parallel writers.
func TestStore(t *testing.T) {
	t.Parallel()
	pg := svctest.StartPostgres(t)
	for _, b := range svctest.Backends(t, pg) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := open(t, b.URL)
			ctx := context.Background()

			t.Run("seeded", func(t *testing.T) {
				all, err := s.Branches(ctx, func(int64) bool { return true })
				if err != nil || len(all) < 3 || all[0].ID != 1 || all[0].Name != "Berlin Mitte" {
					t.Fatalf("branches = %+v, %v", all, err)
				}
				br, items, err := s.Stock(ctx, 1)
				if err != nil || br.ID != 1 || len(items) == 0 {
					t.Fatalf("stock(1) = %+v %+v %v", br, items, err)
				}
				for i := 1; i < len(items); i++ {
					if items[i-1].ProductID >= items[i].ProductID {
						t.Fatalf("not in product order at %d", i)
					}
				}
				if items[0].Version != 1 {
					t.Fatalf("seed version = %d, want 1", items[0].Version)
				}
				only2, _ := s.Branches(ctx, func(id int64) bool { return id == 2 })
				if len(only2) != 1 || only2[0].ID != 2 {
					t.Fatalf("filtered = %+v", only2)
				}
				if _, _, err := s.Stock(ctx, 999); !errors.Is(err, stock.ErrNotFound) {
					t.Fatalf("unknown branch = %v", err)
				}
			})

			t.Run("set and adjust", func(t *testing.T) {
				_, items, _ := s.Stock(ctx, 2)
				it := items[0]
				got, err := s.SetQuantity(ctx, 2, it.ProductID, 10, it.Version)
				if err != nil || got.Quantity != 10 || got.Version != it.Version+1 {
					t.Fatalf("set = %+v, %v", got, err)
				}
				tests := []struct {
					name string
					do   func() (stock.Item, error)
					want error
				}{
					{name: "stale version", do: func() (stock.Item, error) { return s.SetQuantity(ctx, 2, it.ProductID, 5, it.Version) }, want: stock.ErrVersion},
					{name: "negative quantity", do: func() (stock.Item, error) { return s.SetQuantity(ctx, 2, it.ProductID, -1, got.Version) }, want: stock.ErrInvalidData},
					{name: "not stocked", do: func() (stock.Item, error) { return s.SetQuantity(ctx, 2, 999999, 1, 1) }, want: stock.ErrNotFound},
					{name: "unknown branch", do: func() (stock.Item, error) { return s.Adjust(ctx, 999, it.ProductID, 1) }, want: stock.ErrNotFound},
					{name: "below zero", do: func() (stock.Item, error) { return s.Adjust(ctx, 2, it.ProductID, -11) }, want: stock.ErrInsufficient},
					{name: "zero delta", do: func() (stock.Item, error) { return s.Adjust(ctx, 2, it.ProductID, 0) }, want: stock.ErrInvalidData},
					{name: "huge delta", do: func() (stock.Item, error) { return s.Adjust(ctx, 2, it.ProductID, stock.MaxDelta+1) }, want: stock.ErrInvalidData},
					{name: "down to exactly zero", do: func() (stock.Item, error) { return s.Adjust(ctx, 2, it.ProductID, -10) }},
				}
				for _, tt := range tests {
					_, err := tt.do()
					if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
						t.Fatalf("%s: err = %v, want %v", tt.name, err, tt.want)
					}
				}
				_, items, _ = s.Stock(ctx, 2)
				if items[0].Quantity != 0 {
					t.Fatalf("quantity = %d, want 0", items[0].Quantity)
				}
			})

			t.Run("parallel adjustments are never lost", func(t *testing.T) {
				_, items, _ := s.Stock(ctx, 3)
				it := items[0]
				const writers, each = 8, 10
				var wg sync.WaitGroup
				for range writers {
					wg.Go(func() {
						for range each {
							if _, err := s.Adjust(ctx, 3, it.ProductID, 1); err != nil {
								t.Error(err)
							}
						}
					})
				}
				wg.Wait()
				_, after, _ := s.Stock(ctx, 3)
				if after[0].Quantity != it.Quantity+writers*each || after[0].Version != it.Version+writers*each {
					t.Fatalf("after %d parallel +1: quantity %d version %d, want %d and %d",
						writers*each, after[0].Quantity, after[0].Version, it.Quantity+writers*each, it.Version+writers*each)
				}
			})

			t.Run("parallel takes never go below zero", func(t *testing.T) {
				_, items, _ := s.Stock(ctx, 1)
				it := items[1]
				if _, err := s.SetQuantity(ctx, 1, it.ProductID, 5, it.Version); err != nil {
					t.Fatal(err)
				}
				const writers = 12
				var wg sync.WaitGroup
				var mu sync.Mutex
				ok, refused := 0, 0
				for range writers {
					wg.Go(func() {
						_, err := s.Adjust(ctx, 1, it.ProductID, -1)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							ok++
						case errors.Is(err, stock.ErrInsufficient):
							refused++
						default:
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if ok != 5 || refused != writers-5 {
					t.Fatalf("%d takes succeeded and %d were refused, want 5 and %d", ok, refused, writers-5)
				}
			})

			t.Run("parallel sets of one version: exactly one wins", func(t *testing.T) {
				_, items, _ := s.Stock(ctx, 1)
				it := items[2]
				won := svctest.Race(t, 8, func(i int) error {
					_, err := s.SetQuantity(ctx, 1, it.ProductID, 100+i, it.Version)
					return err
				}, func(err error) bool { return errors.Is(err, stock.ErrVersion) })
				if won != 1 {
					t.Fatalf("%d writers won, want 1", won)
				}
			})
		})
	}
}
