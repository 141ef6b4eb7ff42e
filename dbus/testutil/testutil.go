// Package testutil holds the test helpers the daemon's and the notifier's
// tests share: waiting for a condition with a deadline (WaitFor and Until,
// as tailscale's tstest.WaitFor), and a buffer safe for concurrent writers. Tests only.
//
// It sits under dbus/ only because dbus/ is the one tree both halves may
// import (service/internal is closed to the notifier, notifier/internal to
// the daemon); it has nothing to do with D-Bus. notifier/e2e/deps_test.go
// keeps it out of the notifier's binary.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// WaitFor calls cond until it returns true, and fails the test with what
// if it has not within wait: Until, for when there is nothing more to say.
func WaitFor(t testing.TB, wait time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(wait, cond) {
		t.Fatalf("%s: not within %v", what, wait)
	}
}

// Until calls cond until it returns true, and says whether it did within
// wait; on false the caller fails with what it knows (a child's output,
// the state it saw). It is for state the test cannot be told about (a
// file that appears, a process that ends, a count in another goroutine);
// cond may act too, as long as doing so again is harmless (touching a file
// until a watcher reports it). The pause between calls grows from 1 ms to
// 50 ms: fast when the condition is close, light when it is not. wait
// bounds a failing test, not a passing one: make it generous.
func Until(wait time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(wait)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
	return true
}

// LockedBuffer is a bytes.Buffer that several goroutines may write and
// read at once: a child's stdout and stderr, a logger's output.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
