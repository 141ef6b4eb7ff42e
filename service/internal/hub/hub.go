// Package hub is the middle of secmon's pipeline: monitors publish events,
// the hub numbers them, keeps the newest in a ring for replay, and fans them
// out to subscribers (socket clients, the journal, triggers, D-Bus).
//
// Publishing never blocks on a subscriber. Each subscriber has a bounded
// queue; when it is full the event is dropped for that subscriber only, the
// drop is counted, and an EventsDropped notice takes the place of the lost
// events in that subscriber's stream as soon as there is room for it.
package hub

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
)

// BackgroundLinger is the daemon's Linger for its subscribers nobody waits
// on: a burst's events reach the journal and the replay log in batches, at
// most this late.
const BackgroundLinger = 2 * time.Millisecond

// DefaultRingSize is how many events are kept for replay.
const DefaultRingSize = 10000

// DefaultQueueSize is a subscriber's queue length unless it asks otherwise.
const DefaultQueueSize = 4096

// SeqReserver persists a promise that no sequence number up to ceiling has
// been handed out, so that after a restart numbering resumes above it.
type SeqReserver interface {
	// Reserve records ceiling durably.
	Reserve(ceiling uint64) error
}

// Options configure a Hub. The zero value is usable.
type Options struct {
	RingSize int
	// StartSeq is the last sequence number of an earlier run; the first
	// event gets StartSeq+1.
	StartSeq uint64
	// Reserver, if set, is told before numbers above the last reservation
	// are used, in blocks of ReserveBlock.
	Reserver     SeqReserver
	ReserveBlock uint64
	Logger       *slog.Logger
	Now          func() time.Time
	// OnReserveError, if set, is told (on its own goroutine) when a
	// reservation fails: numbering goes on, but after a crash it could
	// repeat numbers.
	OnReserveError func(error)
	// Kept are events an earlier run kept for replay, oldest first, all
	// numbered at or below StartSeq; the newest RingSize of them seed the
	// replay ring, so a client can catch up across a restart.
	Kept []event.Event
}

// Hub numbers events and fans them out. Its methods are safe for concurrent use.
type Hub struct {
	mu       sync.Mutex
	seq      uint64
	firstSeq uint64 // first number of this run
	// gapFirst..gapLast: numbers an earlier run reserved but did not keep
	// (it crashed); 0 when there is none.
	gapFirst, gapLast uint64
	ceiling           uint64
	ring              []event.Event
	ringHead          int // index of the oldest event
	ringMax           int // the ring's size once full
	ringLen           int
	// subs are woken in this order: the ones someone waits on last (see
	// SubOptions.Waited).
	subs []*Sub

	published uint64
	dropped   uint64

	reserver SeqReserver
	onResErr func(error)
	block    uint64
	log      *slog.Logger
	now      func() time.Time
}

// New returns a hub ready for use.
func New(o Options) *Hub {
	if o.RingSize <= 0 {
		o.RingSize = DefaultRingSize
	}
	if o.ReserveBlock == 0 {
		o.ReserveBlock = 1 << 16
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Hub{
		seq:      o.StartSeq,
		firstSeq: o.StartSeq + 1,
		ceiling:  o.StartSeq,
		ringMax:  o.RingSize,
		reserver: o.Reserver,
		onResErr: o.OnReserveError,
		block:    o.ReserveBlock,
		log:      o.Logger,
		now:      o.Now,
	}
	kept := o.Kept
	if len(kept) > h.ringMax {
		kept = kept[len(kept)-h.ringMax:]
	}
	var last uint64
	for _, e := range kept {
		if e.Seq == 0 || e.Seq <= last || e.Seq > o.StartSeq {
			continue // out of order or above the reservation: not ours
		}
		last = e.Seq
		h.ring = append(h.ring, e)
		h.ringLen++
	}
	if h.ringLen > 0 && last < o.StartSeq {
		// The earlier run reserved numbers up to StartSeq but kept events
		// only up to last: it crashed, and lost what it had not written,
		// or never used the rest. A replay across them says so.
		h.gapFirst, h.gapLast = last+1, o.StartSeq
	}
	return h
}

// Kept returns the events held for replay, oldest first.
func (h *Hub) Kept() []event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]event.Event, h.ringLen)
	for i := range out {
		out[i] = h.ring[(h.ringHead+i)%len(h.ring)]
	}
	return out
}

// Publish numbers e, fills in its time and default severity when missing,
// keeps it for replay and queues it for every subscriber. It returns the
// event as published.
func (h *Hub) Publish(e event.Event) event.Event {
	if e.Time.IsZero() {
		e.Time = h.now()
	}
	if e.Severity == 0 {
		if info := event.Info(e.Type); info != nil {
			e.Severity = info.DefaultSeverity
		} else {
			e.Severity = event.Low
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	if h.reserver != nil && e.Seq > h.ceiling {
		next := h.ceiling + h.block
		if next < e.Seq {
			next = e.Seq + h.block
		}
		if err := h.reserver.Reserve(next); err != nil {
			// Numbering goes on; only resumption after a crash is at risk.
			h.log.Error("cannot reserve event sequence numbers", "err", err)
			if h.onResErr != nil {
				go h.onResErr(err) // not under h.mu: it may publish
			}
		}
		h.ceiling = next
	}
	h.published++
	// The subscribers' copies share one JSON line; the ring's copy does
	// not hold it (a replay encodes again) so the ring costs no more.
	kept, e := e, e.Shared()
	if h.ringLen < h.ringMax {
		// Not full yet: the ring grows as it fills (head stays 0), so an
		// idle daemon does not hold a whole buffer of empty events.
		h.ring = append(h.ring, kept)
		h.ringLen++
	} else {
		h.ring[h.ringHead] = kept
		h.ringHead = (h.ringHead + 1) % len(h.ring)
	}
	for _, s := range h.subs {
		if s.filter != nil && !s.filter(e) {
			continue
		}
		if !s.push(e) {
			h.dropped++
		}
	}
	return kept
}

// Stats are the hub's counters.
type Stats struct {
	Published   uint64
	Dropped     uint64
	LastSeq     uint64
	Subscribers int
}

// Stats returns the counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Published: h.published, Dropped: h.dropped, LastSeq: h.seq, Subscribers: len(h.subs)}
}

// LastSeq is the number of the newest event.
func (h *Hub) LastSeq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Since returns up to max kept events with seq > after, oldest first (max
// 0: all kept), and the newest seq.
func (h *Hub) Since(after uint64, max int) ([]event.Event, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []event.Event
	for i := 0; i < h.ringLen; i++ {
		e := h.ring[(h.ringHead+i)%len(h.ring)]
		if e.Seq <= after {
			continue
		}
		if max > 0 && len(out) >= max {
			break
		}
		out = append(out, e)
	}
	return out, h.seq
}

// SubOptions configure a subscription.
type SubOptions struct {
	// Name says who this is, for logs.
	Name string
	// Queue bounds live events waiting for the subscriber.
	Queue int
	// Filter, if set, decides which events the subscriber gets.
	Filter func(event.Event) bool
	// Replay, if set, queues kept events with seq > *Replay first.
	Replay *uint64
	// Linger, for a subscriber nobody waits on (the journal, the replay
	// log, the correlator), is how long it lets events gather before it
	// is woken: one wake-up for a batch instead of one per event when
	// events come faster than it handles one each (a few thousand a
	// second). An idle subscriber still sleeps until there is an event.
	Linger time.Duration
	// Waited marks a subscriber that a person or a program is waiting on
	// (a socket client, the bus): it is woken after the others, and Go's
	// scheduler runs the goroutine woken last first on the publisher's
	// thread, so the event reaches it before the journal's or the replay
	// log's writes.
	Waited bool
}

// Subscribe registers a subscriber. Call Unsubscribe when done.
func (h *Hub) Subscribe(o SubOptions) *Sub {
	if o.Queue <= 0 {
		o.Queue = DefaultQueueSize
	}
	s := &Sub{name: o.Name, max: o.Queue, filter: o.Filter, ready: make(chan struct{}, 1), now: h.now, linger: o.Linger}
	if o.Linger > 0 && !o.Waited {
		s.timer = time.AfterFunc(time.Hour, s.lingered)
		s.timer.Stop()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if o.Replay != nil {
		h.replayLocked(s, *o.Replay)
	}
	if o.Waited {
		h.subs = append(h.subs, s)
	} else {
		h.subs = slices.Insert(h.subs, 0, s)
	}
	return s
}

// Unsubscribe removes s; its queue is discarded.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.subs, s); i >= 0 {
		h.subs = slices.Delete(h.subs, i, i+1)
	}
	if s.timer != nil {
		s.timer.Stop()
	}
}

// Change replaces s's filter and, when replay is set, puts the kept events
// after *replay that s has not been offered yet in front of its queue: a
// client that asks for replay right after connecting gets one ordered stream
// with no gap and no duplicate.
func (h *Hub) Change(s *Sub, filter func(event.Event) bool, replay *uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	s.filter = filter
	s.mu.Unlock()
	if replay != nil {
		h.replayLocked(s, *replay)
	}
}

func (h *Hub) replayLocked(s *Sub, after uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var evs []event.Event
	oldest := h.seq + 1
	if h.ringLen > 0 {
		oldest = h.ring[h.ringHead].Seq
	}
	if after+1 < oldest && after < h.seq {
		reason := "replay_after is older than the replay buffer"
		if h.ringLen < h.ringMax && after+1 < h.firstSeq {
			reason = "replay_after is from before the daemon restarted"
		}
		evs = append(evs, dropNotice(h.now(), oldest-1-after, after+1, oldest-1, reason))
	}
	gap := h.gapLast != 0 && after < h.gapLast && h.gapFirst > oldest
	for i := 0; i < h.ringLen; i++ {
		e := h.ring[(h.ringHead+i)%len(h.ring)]
		if e.Seq <= after {
			continue
		}
		if gap && e.Seq > h.gapLast {
			gap = false
			evs = append(evs, h.gapNotice(after))
		}
		if s.firstOffered != 0 && e.Seq >= s.firstOffered {
			break
		}
		if s.filter != nil && !s.filter(e) {
			continue
		}
		evs = append(evs, e)
	}
	if gap && (s.firstOffered == 0 || s.firstOffered > h.gapLast) {
		evs = append(evs, h.gapNotice(after))
	}
	if len(evs) == 0 {
		return
	}
	s.q.prepend(evs)
	s.signal()
}

// gapNotice names the numbers after after that the previous run reserved
// but did not keep.
func (h *Hub) gapNotice(after uint64) event.Event {
	first := max(after+1, h.gapFirst)
	return dropNotice(h.now(), h.gapLast-first+1, first, h.gapLast,
		"the daemon stopped without keeping them (a crash or a kill): they were lost, or never used; the journal has every event it sent")
}

func dropNotice(now time.Time, n, first, last uint64, reason string) event.Event {
	return event.Event{
		Time:        now,
		Type:        event.EventsDropped,
		Severity:    event.High,
		Description: fmt.Sprintf("%d events lost: %s", n, reason),
		Metadata: map[string]string{
			"dropped":   strconv.FormatUint(n, 10),
			"first_seq": strconv.FormatUint(first, 10),
			"last_seq":  strconv.FormatUint(last, 10),
			"reason":    reason,
		},
	}
}

// shareDepth is the queue length from which a subscriber's events no
// longer hold the JSON line other subscribers encoded (event.Shared): a
// stuck client's full queue would otherwise keep thousands of lines alive.
const shareDepth = 2048

// Sub is one subscriber's queue.
type Sub struct {
	name   string
	max    int
	filter func(event.Event) bool // guarded by the hub's mu and mu
	ready  chan struct{}
	now    func() time.Time

	linger time.Duration
	timer  *time.Timer // set with linger: wakes the subscriber after it

	mu           sync.Mutex
	armed        bool // timer runs: a wake-up is coming
	q            ring
	firstOffered uint64 // seq of the first live event offered (0: none yet)
	pending      uint64 // drops not yet reported in the stream
	pendFirst    uint64
	pendLast     uint64
	dropped      uint64 // all drops
}

// push is called with the hub locked. It reports whether e was queued.
func (s *Sub) push(e event.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.firstOffered == 0 {
		s.firstOffered = e.Seq
	}
	need := 1
	if s.pending > 0 {
		need = 2
	}
	if s.q.len()+need > s.max {
		if s.pending == 0 {
			s.pendFirst = e.Seq
		}
		s.pending++
		s.pendLast = e.Seq
		s.dropped++
		return false
	}
	if s.pending > 0 {
		s.q.push(s.noticeLocked())
	}
	if s.q.len() >= shareDepth {
		// Behind: this subscriber encodes its own copy when it gets
		// there, rather than keep the others' line alive till then.
		e = e.Unshared()
	}
	s.q.push(e)
	if s.timer == nil {
		s.signal()
	} else if !s.armed {
		s.armed = true
		s.timer.Reset(s.linger)
	}
	return true
}

// lingered wakes a lingering subscriber once its time is up.
func (s *Sub) lingered() {
	s.mu.Lock()
	s.armed = false
	s.mu.Unlock()
	s.signal()
}

func (s *Sub) noticeLocked() event.Event {
	n := dropNotice(s.now(), s.pending, s.pendFirst, s.pendLast,
		"this subscriber did not keep up (queue of "+strconv.Itoa(s.max)+" full); replay_after "+
			strconv.FormatUint(s.pendFirst-1, 10)+" may recover them")
	s.pending = 0
	return n
}

func (s *Sub) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Ready is signalled when Pop may have something.
func (s *Sub) Ready() <-chan struct{} { return s.ready }

// Pop takes the next event without waiting. When the queue is empty but
// drops are still unreported, it returns the EventsDropped notice.
func (s *Sub) Pop() (event.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.q.len() > 0 {
		return s.q.pop(), true
	}
	if s.pending > 0 {
		return s.noticeLocked(), true
	}
	return event.Event{}, false
}

// Next waits for the next event or the end of ctx. Once ctx has ended it
// still returns what is queued, then ctx's error: a sink that stops
// writes what was published before (a lingering one may not have been
// woken for it yet).
func (s *Sub) Next(ctx context.Context) (event.Event, error) {
	for {
		if e, ok := s.Pop(); ok {
			return e, nil
		}
		select {
		case <-ctx.Done():
			if e, ok := s.Pop(); ok {
				return e, nil
			}
			return event.Event{}, ctx.Err()
		case <-s.ready:
		}
	}
}

// Dropped is how many events this subscriber lost in all.
func (s *Sub) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Name is the subscriber's name.
func (s *Sub) Name() string { return s.name }
