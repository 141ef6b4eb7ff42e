package bench

import (
	"reflect"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
)

func TestDrainOver(t *testing.T) {
	end := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return end.Add(d) }
	s := time.Second
	for _, c := range []struct {
		name      string
		d         drain
		now, last time.Time
		ended     bool
		want      bool
	}{
		{"still running", burstDrain, at(time.Hour), at(-time.Hour), false, false},
		{"burst: quiet, settled", burstDrain, at(4 * s), at(0), true, true},
		{"burst: quiet, not settled", burstDrain, at(3 * s), at(-5 * s), true, false},
		{"burst: settled, still reading", burstDrain, at(10 * s), at(8 * s), true, false},
		{"burst: still reading at the limit", burstDrain, at(5*time.Minute + s), at(5 * time.Minute), true, true},
		{"latency: quiet 2 s, 5 s after", latencyDrain, at(5*s + 1), at(3 * s), true, true},
		{"latency: quiet 2 s, 4 s after", latencyDrain, at(4 * s), at(0), true, false},
		{"latency: no limit", latencyDrain, at(time.Hour), at(time.Hour - s), true, false},
	} {
		var e int64
		if c.ended {
			e = end.UnixNano()
		}
		if got := c.d.over(c.now, c.last, e); got != c.want {
			t.Errorf("%s: over = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestLatencyMatching(t *testing.T) {
	for _, c := range []struct {
		path string
		i    int
		ok   bool
	}{
		{"/t/lat/f0", 0, true},
		{"/t/lat/f9", 9, true},
		{"/t/lat/f10", 0, false}, // beyond n
		{"/t/lat/f-1", 0, false},
		{"/t/lat/fx", 0, false},
		{"/t/lat/f", 0, false},
		{"/t/lat/warm", 0, false},
		{"/t/other/f1", 0, false},
	} {
		i, ok := latencyIndex(c.path, "/t/lat/f", 10)
		if i != c.i || ok != c.ok {
			t.Errorf("latencyIndex(%s) = %d, %v; want %d, %v", c.path, i, ok, c.i, c.ok)
		}
	}

	w := newLatencyWrites("/t/lat", 3)
	res := newLatencyRun(3)
	c := res.clients[0]
	for i, ns := range []int64{1_000_000, 2_000_000, 3_000_000} {
		w.sent[i].Store(ns)
	}
	if w.receive(c, "/t/lat/warm", 0) || !c.warm.Load() || res.warm() {
		t.Error("the warm-up file warms its client only, and is not a write")
	}
	for _, r := range []struct {
		path string
		now  int64
		all  bool
	}{
		{"/t/lat/f2", 3_500_000, false},
		{"/t/lat/f0", 1_250_000, false},
		{"/t/lat/f0", 9_000_000, false}, // a second event for the same write
	} {
		if got := w.receive(c, r.path, r.now); got != r.all {
			t.Errorf("receive(%s) = %v, want %v", r.path, got, r.all)
		}
	}
	ms, missing := c.latencies()
	if want := []float64{0.25, 0.5}; !reflect.DeepEqual(ms, want) || missing != 1 {
		t.Errorf("latencies = %v, %d missing; want %v, 1", ms, missing, want)
	}
	if !w.receive(c, "/t/lat/f1", 2_000_000) {
		t.Error("the last write seen must say so")
	}
}

func TestBurstReader(t *testing.T) {
	l := Layout{Root: "/r"}
	line := func(typ event.Type, path string, meta map[string]string) []byte {
		b, err := event.Event{Time: time.Now(), Type: typ, Path: path, Severity: event.Medium, Metadata: meta}.AppendJSONLine(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rd := newBurstReader(l, 2, 0)
	for _, c := range []struct {
		line []byte
		done bool
	}{
		{line(event.FileCreate, "/r/s0/f0", nil), false}, // before the warm-up file: not counted
		{line(event.FileCreate, "/r/warm", nil), false},
		{line(event.FileCreate, "/r/s0/f1", nil), false},
		{line(event.EventsDropped, "", map[string]string{"monitor": "filesystem"}), false},
		{line(event.EventsDropped, "", map[string]string{"dropped": "7"}), false},
		{line(event.FileDelete, "/r/s0/f1", nil), false},
		{[]byte("not json\n"), false},
		{line(event.FileCreate, "/r/DONE", nil), true},
	} {
		if got := rd.secmonLine(c.line, 5); got != c.done {
			t.Errorf("secmonLine(%s) = %v, want %v", c.line, got, c.done)
		}
	}
	cr, de, _, _ := rd.t.missed()
	if !rd.warmed.Load() || rd.t.events != 5 || rd.t.kernel != 1 || rd.t.dropped != 7 || cr != 1 || de != 1 {
		t.Errorf("secmon reader: warmed %v, %d events, kernel %d, dropped %d, missed %d+%d; want true, 5, 1, 7, 1+1",
			rd.warmed.Load(), rd.t.events, rd.t.kernel, rd.t.dropped, cr, de)
	}

	rd = newBurstReader(l, 2, 0)
	for _, c := range []struct {
		line string
		done bool
	}{
		{"CREATE /r/s0/f0\n", false},
		{"CREATE /r/warm\n", false},
		{"CREATE /r/s0/f0\n", false},
		{"MODIFY /r/s0/f0\n", false},
		{"DELETE /r/s0/f0\n", false},
		{"garbage\n", false},
		{"CREATE /r/DONE\n", true},
	} {
		if got := rd.inotifyLine([]byte(c.line), 5); got != c.done {
			t.Errorf("inotifyLine(%q) = %v, want %v", c.line, got, c.done)
		}
	}
	cr, de, _, _ = rd.t.missed()
	if rd.t.events != 4 || cr != 1 || de != 1 {
		t.Errorf("inotifywait reader: %d events, missed %d+%d; want 4, 1+1", rd.t.events, cr, de)
	}
}
