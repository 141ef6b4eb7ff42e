package event_test

import (
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
)

// A filesystem event as fswatch emits it, numbered and timed by the hub.
var benchEvent = event.Event{
	Seq:         123456,
	Time:        time.Date(2025, 9, 25, 14, 30, 45, 123e6, time.UTC),
	Type:        event.FileCreate,
	Path:        "/home/alice/.config/autostart/evil.desktop",
	Severity:    event.Medium,
	Description: "Created /home/alice/.config/autostart/evil.desktop (autostart entries)",
	Metadata:    map[string]string{"watch": "~/.config/autostart", "op": "CREATE", "description": "autostart entries"},
}

// What each socket client's writer does per event: the JSON line, into a
// reused buffer.
func BenchmarkAppendJSONLine(b *testing.B) {
	var line []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		line, err = benchEvent.AppendJSONLine(line[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(line)))
}

// A client that decodes the line back.
func BenchmarkUnmarshalJSON(b *testing.B) {
	line, err := benchEvent.AppendJSONLine(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		var e event.Event
		if err := e.UnmarshalJSON(line); err != nil {
			b.Fatal(err)
		}
	}
}

// AppendJSONLine writes exactly what encoding/json writes (MarshalJSON),
// whatever the text: invalid UTF-8, HTML characters, U+2028, control
// characters, any metadata and process.
func FuzzAppendJSONLineIsEncodingJSON(f *testing.F) {
	f.Add(uint64(1), int64(1758810645123), "FileCreate", "/tmp/<b>&\u2028\u2029\xff\xc3(", "desc \x00\x1f\b\f\n\r\t\"\\", "key", "val\x7f", 4242, "comm", "/usr/bin/x", int64(-1), "user", "unit.service", "app.id", 2, true)
	f.Add(uint64(0), int64(0), "", "", "", "", "", 0, "", "", int64(0), "", "", "", 1, false)
	f.Fuzz(func(t *testing.T, seq uint64, ms int64, typ, path, desc, k, v string, pid int, comm, exe string, uid int64, user, unit, app string, sev int, withProc bool) {
		e := event.Event{Seq: seq, Time: time.UnixMilli(ms % (1 << 50)), Type: event.Type(typ), Path: path,
			Severity: event.Severity(sev%4 + 1), Description: desc}
		if k != "" {
			e.Metadata = map[string]string{k: v, k + "2": desc, "a" + v: path}
		}
		if withProc {
			e.Process = &event.Process{PID: pid, Comm: comm, Exe: exe, UID: uid, User: user, Unit: unit, App: app}
		}
		want, err := e.MarshalJSON()
		if err != nil {
			t.Skip(err)
		}
		got, err := e.AppendJSONLine([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "prefix"+string(want)+"\n" {
			t.Fatalf("AppendJSONLine\n%q\nencoding/json\n%q", got, want)
		}
	})
}

func TestAppendJSONLineRefusesAnInvalidSeverity(t *testing.T) {
	if _, err := (event.Event{Seq: 3, Severity: 9}).AppendJSONLine(nil); err == nil {
		t.Fatal("an event with severity 9 was encoded")
	}
}

// The copies of a shared event write the bytes the event's own encoding
// would, whichever of them encodes first and however many run at once.
func TestSharedEventCopiesWriteTheSameLine(t *testing.T) {
	want, err := benchEvent.AppendJSONLine(nil)
	if err != nil {
		t.Fatal(err)
	}
	shared := benchEvent.Shared()
	got := make([][]byte, 8)
	done := make(chan int)
	for i := range got {
		go func(c event.Event) {
			got[i], _ = c.AppendJSONLine([]byte("p"))
			done <- i
		}(shared)
	}
	for range got {
		<-done
	}
	for i, g := range got {
		if string(g) != "p"+string(want) {
			t.Errorf("copy %d wrote %q, want %q", i, g, want)
		}
	}
	if u, _ := shared.Unshared().AppendJSONLine(nil); string(u) != string(want) {
		t.Errorf("unshared copy wrote %q", u)
	}
	bad := benchEvent
	bad.Severity = 0
	if _, err := bad.Shared().AppendJSONLine(nil); err == nil {
		t.Error("a shared event with an invalid severity was encoded")
	}
}

// Ten socket clients and the journal writing one published event: shared,
// the line is encoded once and copied ten times.
func BenchmarkAppendJSONLineShared(b *testing.B) {
	var line []byte
	b.ReportAllocs()
	for b.Loop() {
		e := benchEvent.Shared()
		for range 10 {
			line, _ = e.AppendJSONLine(line[:0])
		}
	}
}
