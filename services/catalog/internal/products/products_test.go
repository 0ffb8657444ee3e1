package products_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatewarden/gatewarden/services/catalog/internal/products"
	"github.com/gatewarden/gatewarden/services/internal/database"
	"github.com/gatewarden/gatewarden/services/internal/svctest"
)

func open(t *testing.T, url string) (*products.Store, *database.DB) {
	t.Helper()
	src, err := database.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := database.Open(context.Background(), src, products.Schema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s, err := products.New(db.DB)
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

func ids(ps []products.Product) []int64 {
	out := []int64{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// TestStore runs the same suite against the embedded SQLite default and a
// real PostgreSQL.
func TestStore(t *testing.T) {
	t.Parallel()
	pg := svctest.StartPostgres(t)
	for _, b := range svctest.Backends(t, pg) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s, db := open(t, b.URL)
			ctx := context.Background()

			t.Run("seeded", func(t *testing.T) {
				all, total, err := s.List(ctx, products.Query{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if total < 24 || len(all) != total {
					t.Fatalf("seed: %d items, total %d; want a few dozen", len(all), total)
				}
				for i := 1; i < len(all); i++ {
					if all[i-1].ID >= all[i].ID {
						t.Fatalf("not in id order at %d", i)
					}
				}
				if all[0].Version != 1 || all[0].Name != "Espresso Beans 1kg" {
					t.Fatalf("first product = %+v", all[0])
				}
			})

			t.Run("paging and search", func(t *testing.T) {
				tests := []struct {
					name      string
					q         products.Query
					wantIDs   []int64
					wantTotal int
				}{
					{name: "first two", q: products.Query{Limit: 2}, wantIDs: []int64{1, 2}, wantTotal: -1},
					{name: "offset", q: products.Query{Limit: 2, Offset: 2}, wantIDs: []int64{3, 4}, wantTotal: -1},
					{name: "past the end", q: products.Query{Limit: 2, Offset: 10000}, wantIDs: []int64{}, wantTotal: -1},
					{name: "search is case-insensitive", q: products.Query{Search: "ESPRESSO", Limit: 100}, wantIDs: []int64{1, 16}, wantTotal: 2},
					{name: "search matches category", q: products.Query{Search: "coffee", Limit: 2}, wantIDs: []int64{1, 2}, wantTotal: -1},
					{name: "percent is literal", q: products.Query{Search: "%", Limit: 100}, wantIDs: []int64{34}, wantTotal: 1},
					{name: "underscore is literal", q: products.Query{Search: "_", Limit: 100}, wantIDs: []int64{}, wantTotal: 0},
					{name: "quote is data", q: products.Query{Search: "' OR 1=1 --", Limit: 100}, wantIDs: []int64{}, wantTotal: 0},
				}
				for _, tt := range tests {
					t.Run(tt.name, func(t *testing.T) {
						got, total, err := s.List(ctx, tt.q)
						if err != nil {
							t.Fatal(err)
						}
						if d := cmp.Diff(tt.wantIDs, ids(got)); d != "" {
							t.Errorf("ids (-want +got):\n%s", d)
						}
						if tt.wantTotal >= 0 && total != tt.wantTotal {
							t.Errorf("total = %d, want %d", total, tt.wantTotal)
						}
					})
				}
			})

			t.Run("create update delete", func(t *testing.T) {
				f := products.Fields{Name: "Test Mug", Description: "A mug.", PriceCents: 990, Currency: "EUR", Category: "test"}
				p, err := s.Create(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if p.ID <= 30 || p.Version != 1 {
					t.Fatalf("created %+v: want a fresh id after the seed and version 1", p)
				}
				f.PriceCents = 1290
				up, err := s.Update(ctx, p.ID, 1, f)
				if err != nil {
					t.Fatal(err)
				}
				if up.Version != 2 || up.PriceCents != 1290 {
					t.Fatalf("updated %+v", up)
				}
				if _, err := s.Update(ctx, p.ID, 1, f); !errors.Is(err, products.ErrVersion) {
					t.Fatalf("stale update = %v, want ErrVersion", err)
				}
				if _, err := s.Update(ctx, 999999, 1, f); !errors.Is(err, products.ErrNotFound) {
					t.Fatalf("update of a missing product = %v, want ErrNotFound", err)
				}
				if err := s.Delete(ctx, p.ID); err != nil {
					t.Fatal(err)
				}
				if err := s.Delete(ctx, p.ID); !errors.Is(err, products.ErrNotFound) {
					t.Fatalf("second delete = %v, want ErrNotFound", err)
				}
				if _, err := s.Get(ctx, p.ID); !errors.Is(err, products.ErrNotFound) {
					t.Fatalf("get after delete = %v, want ErrNotFound", err)
				}
			})

			t.Run("the database refuses what validation would", func(t *testing.T) {
				_, err := db.ExecContext(ctx, `UPDATE products SET price_cents = -1 WHERE id = 1`)
				if !errors.Is(database.Classify(err), database.ErrConstraint) {
					t.Fatalf("negative price = %v, want a constraint violation", err)
				}
			})

			t.Run("parallel updates of one version: exactly one wins", func(t *testing.T) {
				p, err := s.Get(ctx, 2)
				if err != nil {
					t.Fatal(err)
				}
				won := svctest.Race(t, 8, func(i int) error {
					f := products.Fields{Name: p.Name, Description: p.Description, PriceCents: int64(100 + i), Currency: p.Currency, Category: p.Category}
					_, err := s.Update(ctx, p.ID, p.Version, f)
					return err
				}, func(err error) bool { return errors.Is(err, products.ErrVersion) })
				if won != 1 {
					t.Fatalf("%d writers won, want exactly 1", won)
				}
				if cur, _ := s.Get(ctx, p.ID); cur.Version != p.Version+1 {
					t.Fatalf("version = %d, want %d", cur.Version, p.Version+1)
				}
			})
		})
	}
}

// TestMigrationsAreIdempotent: a second start (another replica, a restart)
// applies nothing and keeps the data.
func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	pg := svctest.StartPostgres(t)
	url := pg.NewDatabase(t)
	s1, _ := open(t, url)
	if _, err := s1.Create(context.Background(), products.Fields{Name: "Kept", Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	s2, _ := open(t, url)
	got, total, err := s2.List(context.Background(), products.Query{Search: "kept", Limit: 10})
	if err != nil || total != 1 || got[0].Name != "Kept" {
		t.Fatalf("after a second Open: %v, %d, %v", got, total, err)
	}
}

func TestFieldsValidate(t *testing.T) {
	t.Parallel()
	ok := products.Fields{Name: "Mug", PriceCents: 100, Currency: "EUR"}
	tests := []struct {
		name   string
		mutate func(*products.Fields)
		want   string // substring of the error; "" = valid
	}{
		{name: "valid", mutate: func(*products.Fields) {}},
		{name: "empty name", mutate: func(f *products.Fields) { f.Name = " " }, want: "name: must not be empty"},
		{name: "long name", mutate: func(f *products.Fields) { f.Name = strings.Repeat("x", products.MaxName+1) }, want: "name: at most"},
		{name: "negative price", mutate: func(f *products.Fields) { f.PriceCents = -1 }, want: "price_cents"},
		{name: "huge price", mutate: func(f *products.Fields) { f.PriceCents = products.MaxPriceCents + 1 }, want: "price_cents"},
		{name: "lower-case currency", mutate: func(f *products.Fields) { f.Currency = "eur" }, want: "currency"},
		{name: "NUL in text", mutate: func(f *products.Fields) { f.Description = "a\x00b" }, want: "NUL"},
		{name: "every problem at once", mutate: func(f *products.Fields) { f.Name, f.Currency = "", "" }, want: "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := ok
			tt.mutate(&f)
			err := f.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, products.ErrInvalidData) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalidData mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseRejectsBadSeed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data string
	}{
		{name: "unknown field", data: `[{"id":1,"name":"a","currency":"EUR","colour":"red"}]`},
		{name: "zero id", data: `[{"id":0,"name":"a","currency":"EUR"}]`},
		{name: "duplicate id", data: `[{"id":1,"name":"a","currency":"EUR"},{"id":1,"name":"b","currency":"EUR"}]`},
		{name: "bad currency", data: `[{"id":1,"name":"a","currency":"EURO"}]`},
		{name: "not JSON", data: `{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := products.Parse([]byte(tt.data)); !errors.Is(err, products.ErrInvalidData) {
				t.Fatalf("Parse = %v, want ErrInvalidData", err)
			}
		})
	}
}
