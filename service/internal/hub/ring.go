package hub

import "github.com/pantheros/secmon/service/internal/event"

// ring is a subscriber's FIFO: it grows by doubling as needed and lets its
// memory go once a burst has drained, so a client that lagged once does not
// keep a large buffer.
type ring struct {
	buf     []event.Event
	head, n int
}

const (
	ringMin     = 16
	ringRelease = 256 // an empty ring larger than this drops its buffer
)

func (r *ring) len() int { return r.n }

func (r *ring) push(e event.Event) {
	if r.n == len(r.buf) {
		r.resize(max(ringMin, 2*len(r.buf)), nil)
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
}

func (r *ring) pop() event.Event {
	e := r.buf[r.head]
	r.buf[r.head] = event.Event{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > ringRelease {
			r.buf = nil
		}
	}
	return e
}

// prepend puts evs, in order, before everything queued.
func (r *ring) prepend(evs []event.Event) {
	r.resize(max(ringMin, r.n+len(evs)), evs)
}

func (r *ring) resize(size int, front []event.Event) {
	nb := make([]event.Event, size)
	k := copy(nb, front)
	for i := 0; i < r.n; i++ {
		nb[k+i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head, r.n = nb, 0, k+r.n
}
