package trigger

import (
	"time"

	"github.com/pantheros/secmon/service/internal/event"
)

// SetClock replaces the clock of cooldowns and warning rate limits; call it
// before Run.
func SetClock(r *Runner, now func() time.Time) { r.now = now }

// Counts are one trigger's counters.
type Counts struct{ Started, Suppressed, Skipped uint64 }

// CountsOf reads the counters of the trigger called name.
func CountsOf(r *Runner, name string) Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.triggers {
		if t.name == name {
			return Counts{Started: t.started, Suppressed: t.suppressed, Skipped: t.skipped}
		}
	}
	panic("no trigger " + name)
}

// Running is how many runs hold a slot.
func Running(r *Runner) int { return len(r.slots) }

// Expand substitutes the placeholders of one argument.
func Expand(arg string, e event.Event) string { return expand(arg, e) }
