package server

import (
	"sync/atomic"
	"time"
)

// keySuppressed: on an allow line, how many allow lines were left out
// since the last one written (the --decision-log-rate budget).
const keySuppressed = "suppressed"

// lineBudget lets at most perSecond allow lines through per wall-clock
// second and counts the rest, so the next line written can say how many
// were left out. Denials, errors and untrusted peers never go through it:
// each of those is logged. It is lock-free and exact: the window's second
// and its count share one word, changed by compare-and-swap, so no line is
// let through twice across a second boundary; a left-out line costs a load
// and an add.
type lineBudget struct {
	perSecond  uint64
	window     atomic.Uint64 // unix second << 32 | lines let through in it
	suppressed atomic.Int64  // lines left out and not yet reported
}

// newLineBudget returns nil (every line is written) for perSecond <= 0.
func newLineBudget(perSecond int) *lineBudget {
	if perSecond <= 0 {
		return nil
	}
	return &lineBudget{perSecond: uint64(perSecond)}
}

// take reports whether a line may be written at now and, if so, how many
// were left out before it (each left-out line is reported by exactly one
// later line).
func (b *lineBudget) take(now time.Time) (ok bool, suppressed int64) {
	sec := uint64(now.Unix()) & 0xffffffff
	for {
		old := b.window.Load()
		used := old & 0xffffffff
		if old>>32 != sec {
			used = 0
		}
		if used >= b.perSecond {
			b.suppressed.Add(1)
			return false, 0
		}
		if b.window.CompareAndSwap(old, sec<<32|(used+1)) {
			return true, b.suppressed.Swap(0)
		}
	}
}
