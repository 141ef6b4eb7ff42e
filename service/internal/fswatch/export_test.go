package fswatch

import "time"

// SetClock replaces the clock that write coalescing reads.
func SetClock(w *Watcher, now func() time.Time) { w.now = now }
