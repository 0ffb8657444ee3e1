package testkit

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		advance []time.Duration
		want    time.Time
	}{
		{name: "stands still", want: start},
		{name: "one step", advance: []time.Duration{time.Minute}, want: start.Add(time.Minute)},
		{name: "steps add up", advance: []time.Duration{time.Hour, 30 * time.Second, time.Nanosecond}, want: start.Add(time.Hour + 30*time.Second + time.Nanosecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewClock(start)
			var hooked []time.Duration
			c.OnAdvance(func(d time.Duration) { hooked = append(hooked, d) })
			for _, d := range tt.advance {
				c.Advance(d)
			}
			if got := c.Now(); !got.Equal(tt.want) {
				t.Errorf("Now() = %v, want %v", got, tt.want)
			}
			if len(hooked) != len(tt.advance) {
				t.Fatalf("OnAdvance saw %v, want %v", hooked, tt.advance)
			}
			for i := range hooked {
				if hooked[i] != tt.advance[i] {
					t.Errorf("OnAdvance call %d: %v, want %v", i, hooked[i], tt.advance[i])
				}
			}
		})
	}
}

// TestClockConcurrent is for the race detector: readers and an advancer at once.
func TestClockConcurrent(t *testing.T) {
	t.Parallel()
	start := time.Unix(0, 0)
	c := NewClock(start)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_ = c.Now()
			}
		})
	}
	for range 100 {
		c.Advance(time.Second)
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(100*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
}
