package bench

import (
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
