package stock

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSeededMatchesCatalog(t *testing.T) {
	t.Parallel()
	s, err := Seeded()
	if err != nil {
		t.Fatal(err)
	}
	all := s.Branches(func(int64) bool { return true })
	if len(all) < 3 {
		t.Fatalf("%d branches, want 3 or more", len(all))
	}
	// The catalog's seed is the source of product ids and names.
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "catalog", "internal", "products", "products.json"))
	if err != nil {
		t.Fatal(err)
	}
	var catalog []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw, &catalog); err != nil {
		t.Fatal(err)
	}
	names := map[int64]string{}
	for _, p := range catalog {
		names[p.ID] = p.Name
	}
	for _, b := range all {
		_, items, ok := s.Stock(b.ID)
		if !ok || len(items) == 0 {
			t.Fatalf("branch %d has no stock", b.ID)
		}
		for _, it := range items {
			if names[it.ProductID] != it.Name {
				t.Errorf("branch %d: product %d is %q here, %q in the catalog", b.ID, it.ProductID, it.Name, names[it.ProductID])
			}
		}
	}
}

func TestStoreQueries(t *testing.T) {
	t.Parallel()
	s, err := Parse([]byte(`[
		{"id":2,"name":"B","city":"b","stock":[{"product_id":5,"name":"p5","quantity":1},{"product_id":1,"name":"p1","quantity":0}]},
		{"id":1,"name":"A","city":"a"}]`))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Branches(func(id int64) bool { return id != 3 })
	if d := cmp.Diff([]Branch{{ID: 1, Name: "A", City: "a"}, {ID: 2, Name: "B", City: "b"}}, got); d != "" {
		t.Errorf("branches (-want +got):\n%s", d)
	}
	if got := s.Branches(func(int64) bool { return false }); got == nil || len(got) != 0 {
		t.Errorf("no branch kept = %#v, want empty non-nil", got)
	}
	b, items, ok := s.Stock(2)
	if !ok || b.Name != "B" {
		t.Fatalf("Stock(2) = %v, %v", b, ok)
	}
	if d := cmp.Diff([]Item{{ProductID: 1, Name: "p1"}, {ProductID: 5, Name: "p5", Quantity: 1}}, items); d != "" {
		t.Errorf("items (-want +got):\n%s", d)
	}
	items[0].Quantity = 99
	if _, again, _ := s.Stock(2); again[0].Quantity != 0 {
		t.Error("Stock returned the store's own slice")
	}
	if _, items, ok := s.Stock(1); !ok || items == nil {
		t.Errorf("empty branch: items %v ok %v, want [] true", items, ok)
	}
	if _, _, ok := s.Stock(3); ok {
		t.Error("Stock(3) found a branch that does not exist")
	}
}

func TestParseRejectsBadData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
	}{
		{name: "not json", data: `[`},
		{name: "unknown field", data: `[{"id":1,"name":"A","manager":"x"}]`},
		{name: "zero id", data: `[{"id":0,"name":"A"}]`},
		{name: "duplicate id", data: `[{"id":1,"name":"A"},{"id":1,"name":"B"}]`},
		{name: "no name", data: `[{"id":1}]`},
		{name: "duplicate product", data: `[{"id":1,"name":"A","stock":[{"product_id":1},{"product_id":1}]}]`},
		{name: "negative quantity", data: `[{"id":1,"name":"A","stock":[{"product_id":1,"quantity":-1}]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse([]byte(tt.data)); !errors.Is(err, ErrInvalidData) {
				t.Fatalf("Parse = %v, want ErrInvalidData", err)
			}
		})
	}
}
