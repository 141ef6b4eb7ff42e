package hub

import (
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
)

func TestRingKeepsOrderThroughWrapGrowPrependAndRelease(t *testing.T) {
	var r ring
	next, want := uint64(1), uint64(1)
	pop := func(k int) {
		for range k {
			if e := r.pop(); e.Seq != want {
				t.Fatalf("popped %d, want %d", e.Seq, want)
			}
			want++
		}
	}
	push := func(k int) {
		for range k {
			r.push(event.Event{Seq: next})
			next++
		}
	}
	push(10)
	pop(7)   // head moves along
	push(20) // wraps, then grows
	pop(5)
	if r.len() != 18 {
		t.Fatalf("len %d, want 18", r.len())
	}
	pop(18)
	push(1000)
	pop(1000)
	if r.buf != nil {
		t.Fatalf("an empty ring of %d slots kept its buffer", len(r.buf))
	}
	// prepend puts older events first.
	push(3) // seqs want..want+2
	r.prepend([]event.Event{{Seq: 100}, {Seq: 101}})
	if e := r.pop(); e.Seq != 100 {
		t.Fatalf("after prepend popped %d, want 100", e.Seq)
	}
	if e := r.pop(); e.Seq != 101 {
		t.Fatalf("after prepend popped %d, want 101", e.Seq)
	}
	pop(3)
}
