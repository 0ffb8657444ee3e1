package products

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSeeded(t *testing.T) {
	t.Parallel()
	s, err := Seeded()
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() < 24 {
		t.Fatalf("seed has %d products, want a few dozen", s.Len())
	}
	all, total := s.Page(s.Len(), 0)
	if total != s.Len() || len(all) != total {
		t.Fatalf("Page(all) = %d items, total %d", len(all), total)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].ID >= all[i].ID {
			t.Fatalf("not in id order at %d: %d then %d", i, all[i-1].ID, all[i].ID)
		}
	}
}

func TestPage(t *testing.T) {
	t.Parallel()
	s, err := Parse([]byte(`[
		{"id":3,"name":"c","currency":"EUR"},
		{"id":1,"name":"a","currency":"EUR"},
		{"id":2,"name":"b","currency":"EUR"}]`))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(ps []Product) []int64 {
		out := []int64{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	tests := []struct {
		name          string
		limit, offset int
		want          []int64
	}{
		{name: "all", limit: 10, offset: 0, want: []int64{1, 2, 3}},
		{name: "first two", limit: 2, offset: 0, want: []int64{1, 2}},
		{name: "tail", limit: 2, offset: 2, want: []int64{3}},
		{name: "past end", limit: 2, offset: 3, want: []int64{}},
		{name: "zero limit", limit: 0, offset: 0, want: []int64{}},
		{name: "negative offset", limit: 1, offset: -1, want: []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, total := s.Page(tt.limit, tt.offset)
			if total != 3 || got == nil {
				t.Fatalf("total = %d, items nil = %v", total, got == nil)
			}
			if d := cmp.Diff(tt.want, ids(got)); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
		})
	}
	page, _ := s.Page(1, 0)
	page[0].Name = "mutated"
	if p, _ := s.Get(1); p.Name != "a" {
		t.Error("Page returned the store's own backing array")
	}
}

func TestParseRejectsBadData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
	}{
		{name: "not json", data: `{`},
		{name: "unknown field", data: `[{"id":1,"name":"a","currency":"EUR","colour":"red"}]`},
		{name: "zero id", data: `[{"id":0,"name":"a","currency":"EUR"}]`},
		{name: "duplicate id", data: `[{"id":1,"name":"a","currency":"EUR"},{"id":1,"name":"b","currency":"EUR"}]`},
		{name: "no name", data: `[{"id":1,"currency":"EUR"}]`},
		{name: "negative price", data: `[{"id":1,"name":"a","currency":"EUR","price_cents":-1}]`},
		{name: "bad currency", data: `[{"id":1,"name":"a","currency":"EURO"}]`},
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
