package hub_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
)

func pub(h *hub.Hub, n int) {
	for i := 0; i < n; i++ {
		h.Publish(event.Event{Type: event.FileCreate, Path: "/p/" + strconv.Itoa(i)})
	}
}

// drain pops everything queued without waiting.
func drain(s *hub.Sub) []event.Event {
	var out []event.Event
	for {
		e, ok := s.Pop()
		if !ok {
			return out
		}
		out = append(out, e)
	}
}

func seqs(evs []event.Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func TestPublishNumbersAndDefaults(t *testing.T) {
	h := hub.New(hub.Options{StartSeq: 41})
	s := h.Subscribe(hub.SubOptions{})
	e := h.Publish(event.Event{Type: event.FileModify})
	if e.Seq != 42 || e.Severity != event.Low || e.Time.IsZero() {
		t.Fatalf("got seq %d severity %v time %v, want 42 Low and a time", e.Seq, e.Severity, e.Time)
	}
	got, err := s.Next(context.Background())
	if err != nil || got.Seq != 42 {
		t.Fatalf("Next = %v, %v; want seq 42", got.Seq, err)
	}
}

func TestSlowSubscriberDropsAreReportedInStream(t *testing.T) {
	h := hub.New(hub.Options{})
	slow := h.Subscribe(hub.SubOptions{Queue: 4})
	fast := h.Subscribe(hub.SubOptions{Queue: 100})
	pub(h, 10)
	if n := len(drain(fast)); n != 10 {
		t.Fatalf("fast subscriber got %d events, want 10", n)
	}
	got := drain(slow)
	// 4 queued, then 6 dropped; the notice comes when the queue is empty.
	if len(got) != 5 {
		t.Fatalf("slow got %d items %v, want 4 events and a notice", len(got), seqs(got))
	}
	n := got[4]
	if n.Type != event.EventsDropped || n.Metadata["dropped"] != "6" || n.Metadata["first_seq"] != "5" || n.Metadata["last_seq"] != "10" {
		t.Fatalf("notice = %+v, want 6 dropped, seqs 5..10", n)
	}
	if slow.Dropped() != 6 || h.Stats().Dropped != 6 {
		t.Fatalf("dropped counters = %d/%d, want 6", slow.Dropped(), h.Stats().Dropped)
	}
	// When it catches up, the notice sits before the next live event.
	pub(h, 1)
	if got := drain(slow); len(got) != 1 || got[0].Seq != 11 {
		t.Fatalf("after catching up got %v, want [11]", seqs(got))
	}
}

func TestNoticeInPlaceWhenRoomReturns(t *testing.T) {
	h := hub.New(hub.Options{})
	s := h.Subscribe(hub.SubOptions{Queue: 3})
	pub(h, 5) // 1,2,3 queued; 4,5 dropped
	for range 3 {
		s.Pop()
	}
	pub(h, 1) // notice then 6
	got := drain(s)
	if len(got) != 2 || got[0].Type != event.EventsDropped || got[0].Metadata["dropped"] != "2" || got[1].Seq != 6 {
		t.Fatalf("got %+v, want notice(2) then seq 6", got)
	}
}

func TestReplay(t *testing.T) {
	tests := []struct {
		name      string
		ring      int
		start     uint64
		published int
		after     uint64
		wantSeqs  []uint64
		wantGap   string // reason of a leading EventsDropped, if any
	}{
		{"from the start", 100, 0, 5, 0, []uint64{1, 2, 3, 4, 5}, ""},
		{"after some", 100, 0, 5, 3, []uint64{4, 5}, ""},
		{"after all", 100, 0, 5, 5, nil, ""},
		{"past the ring", 3, 0, 6, 1, []uint64{4, 5, 6}, "replay_after is older than the replay buffer"},
		{"before a restart", 100, 1000, 2, 10, []uint64{1001, 1002}, "replay_after is from before the daemon restarted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hub.New(hub.Options{RingSize: tt.ring, StartSeq: tt.start})
			pub(h, tt.published)
			after := tt.after
			s := h.Subscribe(hub.SubOptions{Replay: &after})
			got := drain(s)
			if tt.wantGap != "" {
				if len(got) == 0 || got[0].Type != event.EventsDropped || got[0].Metadata["reason"] != tt.wantGap {
					t.Fatalf("first = %+v, want gap notice %q", got, tt.wantGap)
				}
				got = got[1:]
			}
			if g := seqs(got); !equal(g, tt.wantSeqs) {
				t.Fatalf("replayed %v, want %v", g, tt.wantSeqs)
			}
		})
	}
}

// A client that connected, received live events, then asked for replay gets
// the older events once and the live ones once.
func TestChangeReplaysOnlyWhatWasNotOffered(t *testing.T) {
	h := hub.New(hub.Options{})
	pub(h, 3)
	s := h.Subscribe(hub.SubOptions{})
	pub(h, 2) // 4, 5 offered live
	zero := uint64(0)
	h.Change(s, func(e event.Event) bool { return e.Seq != 2 }, &zero)
	pub(h, 1)
	if got := seqs(drain(s)); !equal(got, []uint64{1, 3, 4, 5, 6}) {
		t.Fatalf("got %v, want [1 3 4 5 6]", got)
	}
}

func TestFilterKeepsUnwantedOutOfTheQueue(t *testing.T) {
	h := hub.New(hub.Options{})
	s := h.Subscribe(hub.SubOptions{Queue: 2, Filter: func(e event.Event) bool { return e.Severity >= event.High }})
	pub(h, 50)
	h.Publish(event.Event{Type: event.SshAccess, Severity: event.Critical})
	got := drain(s)
	if len(got) != 1 || got[0].Type != event.SshAccess || s.Dropped() != 0 {
		t.Fatalf("got %+v (dropped %d), want only the SshAccess", got, s.Dropped())
	}
}

func TestSince(t *testing.T) {
	h := hub.New(hub.Options{RingSize: 5})
	pub(h, 8) // keeps 4..8
	for _, tt := range []struct {
		after uint64
		max   int
		want  []uint64
	}{{0, 0, []uint64{4, 5, 6, 7, 8}}, {5, 0, []uint64{6, 7, 8}}, {0, 2, []uint64{4, 5}}, {8, 0, nil}} {
		evs, last := h.Since(tt.after, tt.max)
		if !equal(seqs(evs), tt.want) || last != 8 {
			t.Errorf("Since(%d, %d) = %v, %d; want %v, 8", tt.after, tt.max, seqs(evs), last, tt.want)
		}
	}
}

type reserver struct{ got []uint64 }

func (r *reserver) Reserve(c uint64) error { r.got = append(r.got, c); return nil }

func TestSequenceReservation(t *testing.T) {
	r := &reserver{}
	h := hub.New(hub.Options{StartSeq: 100, Reserver: r, ReserveBlock: 10})
	pub(h, 25)
	if !equal(r.got, []uint64{110, 120, 130}) {
		t.Fatalf("reservations %v, want [110 120 130]", r.got)
	}
}

func TestNextHonoursContext(t *testing.T) {
	h := hub.New(hub.Options{})
	s := h.Subscribe(hub.SubOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty queue = %v, want deadline exceeded", err)
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkPublishTenSubscribers(b *testing.B) {
	h := hub.New(hub.Options{})
	for range 10 {
		s := h.Subscribe(hub.SubOptions{Queue: 1 << 20})
		go func() {
			for {
				<-s.Ready()
				for _, ok := s.Pop(); ok; _, ok = s.Pop() {
				}
			}
		}()
	}
	e := event.Event{Type: event.FileCreate, Path: "/x"}
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(e)
	}
}

// Events kept by an earlier run seed the ring: a replay reaches them, and
// ones out of order or above the reservation are ignored.
func TestKeptEventsSeedTheRing(t *testing.T) {
	kept := []event.Event{{Seq: 5, Type: event.FileCreate}, {Seq: 3, Type: event.FileCreate}, {Seq: 8, Type: event.FileModify}, {Seq: 99, Type: event.FileDelete}}
	h := hub.New(hub.Options{RingSize: 8, StartSeq: 10, Kept: kept})
	h.Publish(event.Event{Type: event.CustomMessage})
	evs, last := h.Since(0, 0)
	var seqs []uint64
	for _, e := range evs {
		seqs = append(seqs, e.Seq)
	}
	if fmt.Sprint(seqs) != "[5 8 11]" || last != 11 {
		t.Fatalf("replay after 0: seqs %v last %d, want [5 8 11] 11", seqs, last)
	}
	if k := h.Kept(); len(k) != 3 || k[0].Seq != 5 || k[2].Seq != 11 {
		t.Fatalf("Kept() = %v", k)
	}
}

// After a crash the earlier run kept events up to 3 but had reserved up
// to 100: a replay across the numbers it did not keep says exactly which,
// in order; a clean stop (StartSeq = last kept) leaves no gap to report.
func TestReplayNamesTheNumbersACrashedRunDidNotKeep(t *testing.T) {
	kept := []event.Event{{Seq: 1, Type: event.FileCreate}, {Seq: 2, Type: event.FileCreate}, {Seq: 3, Type: event.FileCreate}}
	for _, tt := range []struct {
		name       string
		start      uint64
		after      uint64
		want       string
		first, end string // the notice's range, when one is wanted
	}{
		{"crash, from the start", 100, 0, "[1 2 3 0 101]", "4", "100"},
		{"crash, from inside the kept", 100, 2, "[3 0 101]", "4", "100"},
		{"crash, from inside the gap", 100, 50, "[0 101]", "51", "100"},
		{"crash, after the gap", 100, 100, "[101]", "", ""},
		{"clean stop", 3, 0, "[1 2 3 4]", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := hub.New(hub.Options{RingSize: 16, StartSeq: tt.start, Kept: kept})
			h.Publish(event.Event{Type: event.CustomMessage})
			s := h.Subscribe(hub.SubOptions{Name: "t", Queue: 16})
			h.Change(s, nil, &tt.after)
			got := drain(s)
			if fmt.Sprint(seqs(got)) != tt.want {
				t.Fatalf("replay after %d: %v, want %s", tt.after, seqs(got), tt.want)
			}
			for _, e := range got {
				if e.Seq != 0 {
					continue
				}
				if e.Type != event.EventsDropped || e.Metadata["first_seq"] != tt.first || e.Metadata["last_seq"] != tt.end {
					t.Errorf("notice %+v, want EventsDropped %s..%s", e, tt.first, tt.end)
				}
			}
		})
	}
}

// What a hub costs before any event: the replay ring grows as it fills,
// so an idle daemon does not hold a whole buffer (10,000 events, about
// 1 MB, were allocated at start before).
func BenchmarkNewIdle(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		h := hub.New(hub.Options{RingSize: 10000})
		h.Publish(event.Event{Type: event.MonitorStatus})
	}
}

// A lingering subscriber is not woken per event: the events of a burst
// wait for the linger to pass and arrive together, with one wake-up, and
// none is lost. A waited subscriber is woken at once.
func TestLingeringSubscriberIsWokenOncePerBatch(t *testing.T) {
	h := hub.New(hub.Options{})
	slow := h.Subscribe(hub.SubOptions{Queue: 1024, Linger: time.Second})
	now := h.Subscribe(hub.SubOptions{Queue: 1024, Waited: true})
	for range 100 {
		h.Publish(event.Event{Type: event.FileCreate, Path: "/x"})
	}
	select {
	case <-now.Ready():
	default:
		t.Fatal("the waited subscriber was not woken at once")
	}
	select {
	case <-slow.Ready():
		t.Fatal("the lingering subscriber was woken before its linger")
	default:
	}
	select {
	case <-slow.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the lingering subscriber was never woken")
	}
	n := 0
	for _, ok := slow.Pop(); ok; _, ok = slow.Pop() {
		n++
	}
	if n != 100 {
		t.Fatalf("the lingering subscriber got %d events, want 100", n)
	}
	select {
	case <-slow.Ready():
		t.Fatal("a second wake-up was queued for the same batch")
	default:
	}
	h.Unsubscribe(slow)
	h.Unsubscribe(now)
}

// A sink told to stop still gets what was published before, though its
// linger has not woken it for those events yet: it was waiting in Next
// when they came, and the end of ctx is what wakes it.
func TestNextReturnsWhatIsQueuedAfterTheEnd(t *testing.T) {
	h := hub.New(hub.Options{})
	s := h.Subscribe(hub.SubOptions{Queue: 16, Linger: time.Hour})
	defer h.Unsubscribe(s)
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		e   event.Event
		err error
	}
	first := make(chan result, 1)
	go func() {
		e, err := s.Next(ctx)
		first <- result{e, err}
	}()
	waitInSelect(t)
	// Next is waiting: the events come without a wake-up.
	for _, p := range []string{"/a", "/b", "/c"} {
		h.Publish(event.Event{Type: event.FileCreate, Path: p})
	}
	cancel()
	var got []string
	select {
	case r := <-first:
		if r.err != nil {
			t.Fatalf("the first Next after the end: %v, with 3 events queued", r.err)
		}
		got = append(got, r.e.Path)
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after ctx ended")
	}
	for {
		e, err := s.Next(ctx)
		if err != nil {
			break
		}
		got = append(got, e.Path)
	}
	if fmt.Sprint(got) != "[/a /b /c]" {
		t.Fatalf("got %v after the end, want [/a /b /c]", got)
	}
}

// waitInSelect returns once a goroutine waits in a select inside
// Sub.Next (read from the runtime's goroutine dump), or fails after 10 s.
func waitInSelect(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "[select]") && strings.Contains(g, "(*Sub).Next") {
				return
			}
		}
		runtime.Gosched()
	}
	t.Fatal("no goroutine came to wait in Sub.Next")
}
