package testkit

import (
	"slices"
	"sync"
	"time"
)

// Clock is a fake clock for code that takes a `func() time.Time`: pass its Now. It stands
// still until Advance moves it. Safe for concurrent use.
type Clock struct {
	mu        sync.Mutex
	now       time.Time
	onAdvance []func(time.Duration)
}

// NewClock returns a clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d, then calls every OnAdvance function with d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	hooks := slices.Clone(c.onAdvance)
	c.mu.Unlock()
	for _, f := range hooks {
		f(d)
	}
}

// OnAdvance registers f to be called after each Advance with the same duration, so other
// clocks move in step (miniredis's FastForward, say).
func (c *Clock) OnAdvance(f func(time.Duration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onAdvance = append(c.onAdvance, f)
}
