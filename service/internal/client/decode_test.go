package client

import (
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
)

var benchLine = []byte(`{"timestamp":"2026-12-05T04:13:14.758Z","seq":120182,"event_type":{"type":"FileCreate"},"path":"/dev/shm/sb/tree/s8/f59998","details":{"severity":"Medium","description":"Created /dev/shm/sb/tree/s8/f59998 (bench tree)","metadata":{"description":"bench tree","op":"CREATE","watch":"/dev/shm/sb/tree"}}}` + "\n")

func BenchmarkDecode(b *testing.B) {
	for _, full := range []bool{false, true} {
		name := "header"
		if full {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, _ := decode(benchLine, full); !ok {
					b.Fatal("not decoded")
				}
			}
		})
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		line    string
		ok      bool
		refused string
		seq     uint64
		typ     event.Type
		sev     event.Severity
	}{
		{"event", string(benchLine), true, "", 120182, event.FileCreate, event.Medium},
		{"drop notice", `{"timestamp":"2026-12-05T04:13:13.183Z","seq":0,"event_type":{"type":"EventsDropped"},"path":"","details":{"severity":"High","description":"732 events lost","metadata":{}}}`, true, "", 0, event.EventsDropped, event.High},
		{"refusal", `{"error":"unknown type \"Nope\""}`, false, `unknown type "Nope"`, 0, "", 0},
		{"not json", "hello", false, "", 0, "", 0},
		{"no type", `{"seq":3}`, false, "", 0, "", 0},
		{"unknown severity", `{"timestamp":"2026-12-05T04:13:13.183Z","seq":4,"event_type":{"type":"FileCreate"},"details":{"severity":"Huge"}}`, false, "", 0, "", 0},
	} {
		for _, full := range []bool{false, true} {
			e, ok, refused := decode([]byte(tc.line), full)
			if ok != tc.ok || refused != tc.refused {
				t.Errorf("%s (full %v): ok %v refused %q, want %v %q", tc.name, full, ok, refused, tc.ok, tc.refused)
				continue
			}
			if ok && (e.Seq != tc.seq || e.Type != tc.typ || e.Severity != tc.sev) {
				t.Errorf("%s (full %v): seq %d type %s severity %s, want %d %s %s", tc.name, full, e.Seq, e.Type, e.Severity, tc.seq, tc.typ, tc.sev)
			}
		}
	}
}
