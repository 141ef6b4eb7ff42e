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
