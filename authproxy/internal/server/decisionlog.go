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
// each of those is logged. It is lock-free: a decision pays two atomic
// adds. Two goroutines crossing a second boundary at once may both reset
// the count, letting a few extra lines through, never fewer.
type lineBudget struct {
	perSecond  int64
	second     atomic.Int64 // unix second of the current window
	used       atomic.Int64 // lines let through in that window
	suppressed atomic.Int64 // lines left out since the last one let through
}

// newLineBudget returns nil (every line is written) for perSecond <= 0.
func newLineBudget(perSecond int) *lineBudget {
	if perSecond <= 0 {
		return nil
	}
	return &lineBudget{perSecond: int64(perSecond)}
}

// take reports whether a line may be written at now and, if so, how many
// were left out before it.
func (b *lineBudget) take(now time.Time) (ok bool, suppressed int64) {
	sec := now.Unix()
	if b.second.Load() != sec && b.second.Swap(sec) != sec {
		b.used.Store(0)
	}
	if b.used.Add(1) > b.perSecond {
		b.suppressed.Add(1)
		return false, 0
	}
	return true, b.suppressed.Swap(0)
}
