package dbussink

import (
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/service/internal/event"
)

// storm keeps a flood of Low and Medium events from swamping the bus: a
// token bucket (refilled from the clock on each event, no ticker) admits
// SignalRate a second with bursts of SignalBurst; the rest are counted into
// a summary that goes out when the next event is admitted or a second after
// the summary began, whichever is first. High and Critical always pass.
type storm struct {
	now    func() time.Time
	tokens float64
	last   time.Time
	sum    *secmondbus.Coalesced
	timer  *time.Timer
}

func newStorm(now func() time.Time) *storm {
	return &storm{now: now, tokens: secmondbus.SignalBurst, last: now()}
}

// admit says whether e gets its own signal; if not, it is summarised.
func (s *storm) admit(e event.Event) bool {
	now := s.now()
	s.tokens = min(secmondbus.SignalBurst, s.tokens+now.Sub(s.last).Seconds()*secmondbus.SignalRate)
	s.last = now
	if e.Severity >= event.High {
		return true
	}
	if s.tokens >= 1 {
		s.tokens--
		return true
	}
	if s.sum == nil {
		s.sum = &secmondbus.Coalesced{FirstSeq: e.Seq, ByType: map[string]uint32{}}
		s.timer = time.NewTimer(time.Second)
	}
	s.sum.LastSeq = e.Seq
	s.sum.Count++
	s.sum.ByType[string(e.Type)]++
	return false
}

// take returns and clears the pending summary, if any.
func (s *storm) take() *secmondbus.Coalesced {
	sum := s.sum
	s.sum = nil
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	return sum
}

// flushC fires when a pending summary is due (nil: never).
func (s *storm) flushC() <-chan time.Time {
	if s.timer == nil {
		return nil
	}
	return s.timer.C
}
