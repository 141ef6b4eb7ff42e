package follow_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/notifier/internal/follow"
)

// fake stands in for secmon-daemon on a private bus: it owns the name,
// answers GetEventsAfter and LastSeq from its list, and emits what the test
// says. The real daemon is driven in notifier/e2e; this one can be made to
// do the rare things (fold a storm around a High event, restart its
// numbering) exactly.
type fake struct {
	t    *testing.T
	conn *dbus.Conn
	mu   sync.Mutex
	evs  []secmondbus.Event
}

func startFake(t *testing.T, bus *dbustest.Bus, evs ...secmondbus.Event) *fake {
	t.Helper()
	f := &fake{t: t, conn: bus.Conn(t), evs: evs}
	if err := f.conn.Export(methods{f}, secmondbus.ObjectPath, secmondbus.Interface); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.Export(props{f}, secmondbus.ObjectPath, "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	if r, err := f.conn.RequestName(secmondbus.BusName, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName: %v %v", r, err)
	}
	return f
}

type methods struct{ f *fake }

func (m methods) GetEventsAfter(after uint64, max uint32) ([]secmondbus.Event, uint64, *dbus.Error) {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	out := []secmondbus.Event{}
	var last uint64
	for _, e := range m.f.evs {
		last = max64(last, e.Seq)
		if e.Seq > after && (max == 0 || uint32(len(out)) < max) {
			out = append(out, e)
		}
	}
	return out, last, nil
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

type props struct{ f *fake }

func (p props) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	_, last, _ := methods(p).GetEventsAfter(^uint64(0), 1)
	return dbus.MakeVariant(last), nil
}

// add keeps e for replay without signalling it (as a folded event).
func (f *fake) add(evs ...secmondbus.Event) {
	f.mu.Lock()
	f.evs = append(f.evs, evs...)
	f.mu.Unlock()
}

// signal keeps e and emits its Event signal.
func (f *fake) signal(e secmondbus.Event) {
	f.add(e)
	if err := f.conn.Emit(secmondbus.ObjectPath, secmondbus.SignalEventMember, e.Body()...); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fake) emit(member string, args ...any) {
	if err := f.conn.Emit(secmondbus.ObjectPath, secmondbus.Interface+"."+member, args...); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fake) leave() {
	if _, err := f.conn.ReleaseName(secmondbus.BusName); err != nil {
		f.t.Fatal(err)
	}
}

func ev(seq uint64, sev string) secmondbus.Event {
	return secmondbus.Event{Seq: seq, Type: "FileCreate", Severity: sev, Path: fmt.Sprintf("/f%d", seq), Details: map[string]string{}}
}

// run starts a follower on bus and returns its items.
func run(t *testing.T, bus *dbustest.Bus) <-chan follow.Item {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan follow.Item, 1024)
	f := follow.New(follow.Options{Connect: func(opts ...dbus.ConnOption) (*dbus.Conn, error) {
		return dbus.Connect(bus.Address(), opts...)
	}, PageSize: 3})
	done := make(chan struct{})
	go func() { f.Run(ctx, out); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return out
}

// next returns the next item, failing after a deadline.
func next(t *testing.T, items <-chan follow.Item) follow.Item {
	t.Helper()
	select {
	case it := <-items:
		return it
	case <-time.After(dbustest.Timeout):
		t.Fatal("no item")
		return follow.Item{}
	}
}

// seqsUntilUp collects event seqs until a Status with Up.
func seqsUntilUp(t *testing.T, items <-chan follow.Item) []uint64 {
	t.Helper()
	var seqs []uint64
	for {
		it := next(t, items)
		switch {
		case it.Event != nil:
			seqs = append(seqs, it.Event.Seq)
		case it.Status != nil && it.Status.Up:
			return seqs
		}
	}
}

func wantSeqs(t *testing.T, items <-chan follow.Item, want ...uint64) {
	t.Helper()
	var got []uint64
	for len(got) < len(want) {
		it := next(t, items)
		if it.Event != nil {
			got = append(got, it.Event.Seq)
		}
		if it.Coalesced != nil {
			t.Fatalf("a summary (%+v) instead of its events", it.Coalesced)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("seqs %v, want %v", got, want)
	}
}

// A daemon running before the notifier is followed from its LastSeq: its
// history is not news.
func TestRunningDaemonIsFollowedFromNow(t *testing.T) {
	bus := dbustest.StartSession(t)
	f := startFake(t, bus, ev(1, "Medium"), ev(2, "High"))
	items := run(t, bus)
	if seqs := seqsUntilUp(t, items); len(seqs) != 0 {
		t.Fatalf("history replayed: %v", seqs)
	}
	f.signal(ev(3, "Medium"))
	wantSeqs(t, items, 3)
}

// A daemon that appears later is replayed from its first event (pages of
// 3 here), then followed; a restart with numbers that went back is
// replayed from the start too.
func TestAppearingDaemonIsReplayed(t *testing.T) {
	bus := dbustest.StartSession(t)
	items := run(t, bus)
	if it := next(t, items); it.Status == nil || it.Status.Up {
		t.Fatalf("first item %+v, want the daemon absent", it)
	}
	var evs []secmondbus.Event
	for i := uint64(1); i <= 7; i++ {
		evs = append(evs, ev(i, "Medium"))
	}
	f := startFake(t, bus, evs...)
	if seqs := seqsUntilUp(t, items); !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("replayed %v", seqs)
	}
	f.signal(ev(8, "Medium"))
	wantSeqs(t, items, 8)

	f.leave()
	if it := next(t, items); it.Status == nil || it.Status.Up {
		t.Fatalf("after the daemon left: %+v", it)
	}
	startFake(t, bus, ev(1, "Medium"), ev(2, "Low"))
	if seqs := seqsUntilUp(t, items); !slices.Equal(seqs, []uint64{1, 2}) {
		t.Fatalf("after a restart that lost the numbering: %v", seqs)
	}
}

// A daemon that restarts keeping its numbering is replayed from the last
// seq handed on: what it saw before the notifier saw it is not lost, and
// nothing is handed on twice.
func TestRestartedDaemonIsReplayedFromTheLastSeq(t *testing.T) {
	bus := dbustest.StartSession(t)
	f := startFake(t, bus, ev(10, "Medium"))
	items := run(t, bus)
	seqsUntilUp(t, items)
	f.signal(ev(11, "Medium"))
	wantSeqs(t, items, 11)
	f.leave()
	next(t, items) // absent
	g := startFake(t, bus, ev(9, "Medium"), ev(11, "Medium"), ev(12, "Medium"), ev(13, "High"))
	if seqs := seqsUntilUp(t, items); !slices.Equal(seqs, []uint64{12, 13}) {
		t.Fatalf("replayed %v, want 12 13", seqs)
	}
	g.signal(ev(13, "High")) // a late duplicate signal
	g.signal(ev(14, "Medium"))
	wantSeqs(t, items, 14)
}

// An EventsCoalesced summary is turned back into its Low and Medium events;
// the High one inside its range, which had its own signal, is not handed on
// twice. A malformed signal is ignored.
func TestCoalescedIsUnfolded(t *testing.T) {
	bus := dbustest.StartSession(t)
	f := startFake(t, bus)
	items := run(t, bus)
	seqsUntilUp(t, items)
	f.signal(ev(1, "Medium"))
	f.add(ev(2, "Medium"), ev(3, "Low"))
	f.signal(ev(4, "High"))
	f.add(ev(5, "Medium"), ev(6, "Medium"), ev(7, "Low"), ev(8, "Medium"))
	f.emit(secmondbus.SignalCoalesced, uint64(2), uint64(8), uint32(6), map[string]uint32{"FileCreate": 6})
	f.emit(secmondbus.SignalEvent, "not", "an", "event")
	f.signal(ev(9, "Medium"))
	wantSeqs(t, items, 1, 4, 2, 3, 5, 6, 7, 8, 9)
}

// Resumed after the seq handed on last time, the follower replays what the
// daemon kept after it: a notifier restart loses nothing.
func TestResumeAfterReplaysWhatCameMeanwhile(t *testing.T) {
	bus := dbustest.StartSession(t)
	startFake(t, bus, ev(1, "Medium"), ev(2, "Critical"), ev(3, "Low"))
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan follow.Item, 64)
	after := uint64(1)
	f := follow.New(follow.Options{Connect: func(opts ...dbus.ConnOption) (*dbus.Conn, error) {
		return dbus.Connect(bus.Address(), opts...)
	}, ResumeAfter: &after})
	done := make(chan struct{})
	go func() { f.Run(ctx, out); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if seqs := seqsUntilUp(t, out); !slices.Equal(seqs, []uint64{2, 3}) {
		t.Fatalf("resumed after 1: replayed %v, want 2 3", seqs)
	}
}
