// Package ratelimit lets the first occurrence of each key through in a
// window and counts the repeats, so that a browser's thousand connections to
// one host are one event and one summary with the count: nothing is dropped
// without being counted and handed back.
//
// Memory is bounded: when MaxKeys are followed, the oldest is ended early
// and its summary handed back like any other. It is pure: the caller passes
// the time and asks when the next summary is due, so nothing wakes up while
// there is nothing to report.
package ratelimit

import (
	"time"

	"github.com/pantheros/secmon/service/internal/lru"
)

// Summary is one key's window that had repeats.
type Summary[K comparable, V any] struct {
	Key K
	// Last is the value of the latest repeat.
	Last V
	// Suppressed is how many were not let through.
	Suppressed int
	// Since is when the window started (the occurrence let through).
	Since time.Time
}

// Limiter counts per key.
type Limiter[K comparable, V any] struct {
	window time.Duration
	// keys is in insertion order (only Peek is used): all windows are as
	// long, so the oldest is the soonest due.
	keys    *lru.Cache[K, *entry[K, V]]
	pending []Summary[K, V]
	counted int // entries with Suppressed > 0
}

type entry[K comparable, V any] struct {
	Summary[K, V]
	until time.Time
}

// New returns a limiter letting one occurrence per key through per window,
// following at most max keys. A window of 0 lets everything through.
func New[K comparable, V any](window time.Duration, max int) *Limiter[K, V] {
	if max < 1 {
		max = 1
	}
	return &Limiter[K, V]{window: window, keys: lru.New[K, *entry[K, V]](max)}
}

// Allow says whether this occurrence is to be reported. If not, it is
// counted for the key's summary.
func (l *Limiter[K, V]) Allow(key K, v V, now time.Time) bool {
	if l.window <= 0 {
		return true
	}
	l.expire(now)
	if e, ok := l.keys.Peek(key); ok {
		if e.Suppressed == 0 {
			l.counted++
		}
		e.Suppressed++
		e.Last = v
		return false
	}
	if _, old, evicted := l.keys.Add(key, &entry[K, V]{Summary: Summary[K, V]{Key: key, Last: v, Since: now}, until: now.Add(l.window)}); evicted {
		l.end(old)
	}
	return true
}

// Due returns the summaries of the windows that ended by now, and of keys
// ended early to make room.
func (l *Limiter[K, V]) Due(now time.Time) []Summary[K, V] {
	l.expire(now)
	out := l.pending
	l.pending = nil
	return out
}

// Next says when Due will next have something: ok is false when nothing is
// counted (then no timer is needed); a time not after now means at once.
func (l *Limiter[K, V]) Next() (at time.Time, ok bool) {
	if len(l.pending) > 0 {
		return time.Time{}, true
	}
	if l.counted == 0 {
		return time.Time{}, false
	}
	for _, e := range l.keys.All() {
		if e.Suppressed > 0 {
			return e.until, true
		}
	}
	return time.Time{}, false
}

func (l *Limiter[K, V]) expire(now time.Time) {
	for {
		_, e, ok := l.keys.Oldest()
		if !ok || e.until.After(now) {
			return
		}
		l.keys.RemoveOldest()
		l.end(e)
	}
}

// end hands back the summary of a key already removed.
func (l *Limiter[K, V]) end(e *entry[K, V]) {
	if e.Suppressed > 0 {
		l.counted--
		l.pending = append(l.pending, e.Summary)
	}
}
