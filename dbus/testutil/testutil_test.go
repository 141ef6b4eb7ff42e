package testutil_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
)

// recorder is a testing.TB that records a failure instead of ending the
// test, so WaitFor's failure can be asserted on.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(r) // Fatalf must not return
}

func waitFor(wait time.Duration, what string, cond func() bool) (failed string) {
	r := &recorder{TB: nil}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		failed = r.failed
	}()
	testutil.WaitFor(r, wait, what, cond)
	return ""
}

func TestWaitFor(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 5 {
			n.Add(1)
		}
	}()
	if failed := waitFor(time.Minute, "five", func() bool { return n.Load() == 5 }); failed != "" {
		t.Fatalf("WaitFor failed: %s", failed)
	}
	calls := 0
	failed := waitFor(30*time.Millisecond, "the impossible", func() bool { calls++; return false })
	if !strings.Contains(failed, "the impossible: not within 30ms") {
		t.Errorf("failure %q, want it to name what and the wait", failed)
	}
	if calls < 2 {
		t.Errorf("cond called %d times, want it retried", calls)
	}
}

func TestLockedBuffer(t *testing.T) {
	var b testutil.LockedBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := strings.Count(b.String(), "\n"); got != 800 {
		t.Errorf("%d lines, want 800", got)
	}
}

func TestUntil(t *testing.T) {
	calls := 0
	if testutil.Until(20*time.Millisecond, func() bool { calls++; return false }) {
		t.Error("Until of a condition never true said true")
	}
	if calls < 2 {
		t.Errorf("cond called %d times, want it retried", calls)
	}
	calls = 0
	if !testutil.Until(time.Minute, func() bool { calls++; return calls == 3 }) || calls != 3 {
		t.Errorf("Until stopped after %d calls, want true after 3", calls)
	}
}
