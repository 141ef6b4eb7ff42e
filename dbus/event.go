package dbus

import (
	"fmt"
	"time"
)

// Event is the Event signal's arguments, and one element of GetEventsAfter.
type Event struct {
	Seq           uint64
	TimestampUsec int64
	Type          string
	Severity      string
	Path          string
	Description   string
	// Details holds the metadata and, when known, the process's Detail*
	// keys: pid, comm, exe, uid, user, unit, app.
	Details map[string]string
}

// Time is the event's time.
func (e Event) Time() time.Time { return time.UnixMicro(e.TimestampUsec) }

// Body is the signal body, in argument order.
func (e Event) Body() []any {
	d := e.Details
	if d == nil {
		d = map[string]string{}
	}
	return []any{e.Seq, e.TimestampUsec, e.Type, e.Severity, e.Path, e.Description, d}
}

// DecodeEvent reads an Event signal's body, checking every argument's type
// (a foreign signal with the same name must not crash a client).
func DecodeEvent(body []any) (Event, error) {
	var e Event
	if len(body) != 7 {
		return e, fmt.Errorf("cannot decode Event: %d arguments, want 7", len(body))
	}
	var ok [7]bool
	e.Seq, ok[0] = body[0].(uint64)
	e.TimestampUsec, ok[1] = body[1].(int64)
	e.Type, ok[2] = body[2].(string)
	e.Severity, ok[3] = body[3].(string)
	e.Path, ok[4] = body[4].(string)
	e.Description, ok[5] = body[5].(string)
	e.Details, ok[6] = body[6].(map[string]string)
	for i, good := range ok {
		if !good {
			return Event{}, fmt.Errorf("cannot decode Event: argument %d is %T", i, body[i])
		}
	}
	return e, nil
}

// Coalesced is the EventsCoalesced signal's arguments: Count Low and
// Medium events, FirstSeq to LastSeq, were folded during a storm instead of
// each having its own Event signal; ByType counts them per type. They stay
// available through GetEventsAfter.
type Coalesced struct {
	FirstSeq, LastSeq uint64
	Count             uint32
	ByType            map[string]uint32
}

// Body is the signal body, in argument order.
func (c Coalesced) Body() []any {
	m := c.ByType
	if m == nil {
		m = map[string]uint32{}
	}
	return []any{c.FirstSeq, c.LastSeq, c.Count, m}
}

// DecodeCoalesced reads an EventsCoalesced signal's body, checking every
// argument's type and that the seq range is one (seqs start at 1).
func DecodeCoalesced(body []any) (Coalesced, error) {
	var c Coalesced
	if len(body) != 4 {
		return c, fmt.Errorf("cannot decode EventsCoalesced: %d arguments, want 4", len(body))
	}
	var ok [4]bool
	c.FirstSeq, ok[0] = body[0].(uint64)
	c.LastSeq, ok[1] = body[1].(uint64)
	c.Count, ok[2] = body[2].(uint32)
	c.ByType, ok[3] = body[3].(map[string]uint32)
	for i, good := range ok {
		if !good {
			return Coalesced{}, fmt.Errorf("cannot decode EventsCoalesced: argument %d is %T", i, body[i])
		}
	}
	if c.FirstSeq == 0 || c.LastSeq < c.FirstSeq {
		return Coalesced{}, fmt.Errorf("cannot decode EventsCoalesced: seq range %d..%d", c.FirstSeq, c.LastSeq)
	}
	return c, nil
}
