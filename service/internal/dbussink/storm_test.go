package dbussink

import (
	"testing"
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/service/internal/event"
)

func TestStormFoldsLowButNeverHigh(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newStorm(func() time.Time { return now })
	admitted, folded := 0, 0
	for i := 1; i <= 1000; i++ {
		sev := event.Low
		if i%100 == 0 {
			sev = event.High
		}
		e := event.Event{Seq: uint64(i), Type: event.FileCreate, Severity: sev}
		if s.admit(e) {
			admitted++
		} else {
			folded++
			if sev >= event.High {
				t.Fatalf("a High event (seq %d) was folded", i)
			}
		}
	}
	// No time passed: the burst, plus the ten High events.
	if admitted != secmondbus.SignalBurst+10 || admitted+folded != 1000 {
		t.Fatalf("admitted %d, folded %d; want %d admitted and all 1000 accounted for", admitted, folded, secmondbus.SignalBurst+10)
	}
	sum := s.take()
	if sum == nil || sum.Count != uint32(folded) || sum.ByType["FileCreate"] != uint32(folded) || sum.FirstSeq != uint64(secmondbus.SignalBurst+3) || sum.LastSeq != 999 {
		t.Fatalf("summary %+v, want %d folded FileCreate from seq %d to 999", sum, folded, secmondbus.SignalBurst+3)
	}
	if s.flushC() != nil {
		t.Fatal("a flush is still armed after take")
	}
	now = now.Add(time.Second) // refills SignalRate tokens
	if !s.admit(event.Event{Seq: 1001, Severity: event.Low}) {
		t.Fatal("after a second of quiet a Low event is still folded")
	}
}
