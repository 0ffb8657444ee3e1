package lru

import (
	"fmt"
	"sync"
	"testing"
)

func TestCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(c *Cache[string, int]) (int, bool)
		want int
		ok   bool
		len  int
	}{
		{name: "miss", run: func(c *Cache[string, int]) (int, bool) { return c.Get("a", nil) }, len: 0},
		{name: "hit", run: func(c *Cache[string, int]) (int, bool) {
			c.Put("a", 1)
			return c.Get("a", nil)
		}, want: 1, ok: true, len: 1},
		{name: "replace", run: func(c *Cache[string, int]) (int, bool) {
			c.Put("a", 1)
			c.Put("a", 2)
			return c.Get("a", nil)
		}, want: 2, ok: true, len: 1},
		{name: "invalid entry removed", run: func(c *Cache[string, int]) (int, bool) {
			c.Put("a", 1)
			return c.Get("a", func(v int) bool { return v > 1 })
		}, len: 0},
		{name: "valid entry kept", run: func(c *Cache[string, int]) (int, bool) {
			c.Put("a", 2)
			return c.Get("a", func(v int) bool { return v > 1 })
		}, want: 2, ok: true, len: 1},
		{name: "least recently used evicted", run: func(c *Cache[string, int]) (int, bool) {
			c.Put("a", 1)
			c.Put("b", 2)
			c.Get("a", nil) // b is now the oldest
			c.Put("c", 3)
			if _, ok := c.Get("b", nil); ok {
				return -1, true
			}
			return c.Get("a", nil)
		}, want: 1, ok: true, len: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := New[string, int](2)
			got, ok := tt.run(c)
			if got != tt.want || ok != tt.ok || c.Len() != tt.len {
				t.Fatalf("got %d, %v, len %d; want %d, %v, len %d", got, ok, c.Len(), tt.want, tt.ok, tt.len)
			}
		})
	}
}

func TestNewRejectsNonPositiveSize(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("New(0) did not panic")
		}
	}()
	New[int, int](0)
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	c := New[string, int](16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprint(i % 40)
				c.Put(k, g)
				c.Get(k, func(int) bool { return i%3 != 0 })
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 16 {
		t.Fatalf("Len = %d, over the bound", n)
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := New[[32]byte, int](1024)
	var k [32]byte
	c.Put(k, 1)
	b.ReportAllocs()
	for b.Loop() {
		c.Get(k, nil)
	}
}
