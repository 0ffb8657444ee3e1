package cutoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatewarden/gatewarden/authproxy/internal/cutoff"
	"github.com/gatewarden/gatewarden/authproxy/internal/session"
	"github.com/gatewarden/gatewarden/authproxy/internal/session/sessiontest"
)

// fixedCutoff is a cutoff that never changes (no Redis in the loop).
type fixedCutoff time.Time

func (c fixedCutoff) Get(context.Context) (time.Time, error) { return time.Time(c), nil }

// BenchmarkLoad: what the cutoff check adds to a session load, against
// the in-memory store (report the difference between the two).
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	mem := sessiontest.NewMemory(sessiontest.Options{})
	cookie, err := mem.Create(ctx, &session.Session{UserID: "u1"})
	if err != nil {
		b.Fatal(err)
	}
	wrapped, err := cutoff.NewStore(cutoff.Config{Store: mem, Cutoffs: fixedCutoff(time.Now().Add(-time.Hour))})
	if err != nil {
		b.Fatal(err)
	}
	for _, bb := range []struct {
		name  string
		store session.Store
	}{{"memory", mem}, {"memory+cutoff", wrapped}} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bb.store.Load(ctx, cookie); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
