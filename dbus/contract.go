// Package dbus is secmon's bus contract, shared by the daemon and the
// notifier and nothing else: the interface XML (the source of truth,
// embedded here), the names, and the encoding of an event as the Event
// signal's arguments. Import it as secmondbus.
//
// See the D-Bus API design guidelines for the versioned names:
// https://dbus.freedesktop.org/doc/dbus-api-design.html
package dbus

import (
	_ "embed"
	"fmt"
	"time"
)

// Names of the contract.
const (
	BusName     = "org.pantheros.Secmon"
	ObjectPath  = "/org/pantheros/Secmon1"
	Interface   = "org.pantheros.Secmon1"
	SignalEvent = "Event"
	// SignalEventMember is the signal's full name as godbus reports it.
	SignalEventMember    = Interface + "." + SignalEvent
	MethodGetEventsAfter = "GetEventsAfter"
	SignalCoalesced      = "EventsCoalesced"
	// SignalCoalescedMember is the summary signal's full name.
	SignalCoalescedMember = Interface + "." + SignalCoalesced
	// SignalRate and SignalBurst bound Low and Medium Event signals: above
	// them they are folded into EventsCoalesced.
	SignalRate  = 100
	SignalBurst = 200
)

// IntrospectXML is the interface, as exported.
//
//go:embed org.pantheros.Secmon1.xml
var IntrospectXML string

// Event is the Event signal's arguments, and one element of GetEventsAfter.
type Event struct {
	Seq           uint64
	TimestampUsec int64
	Type          string
	Severity      string
	Path          string
	Description   string
	// Details holds the metadata and, when known, pid, comm, exe, uid, user.
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
