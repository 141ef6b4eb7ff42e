// Package dbus is secmon's bus contract, shared by the daemon and the
// notifier and nothing else: the interface XML (the source of truth,
// embedded here), the names, the event type and severity names, and the
// encoding and decoding of both signals (Event and EventsCoalesced). Import
// it as secmondbus.
//
// The daemon keeps its own typed event model; a test on its side
// (service/internal/event) checks that its types and severities are exactly
// the ones listed here, so a new type cannot reach the bus without the
// notifier knowing its name.
//
// See the D-Bus API design guidelines for the versioned names:
// https://dbus.freedesktop.org/doc/dbus-api-design.html
package dbus

import _ "embed"

// Names of the contract.
const (
	BusName     = "org.pantheros.Secmon"
	ObjectPath  = "/org/pantheros/Secmon1"
	Interface   = "org.pantheros.Secmon1"
	SignalEvent = "Event"
	// SignalEventMember is the signal's full name as godbus reports it.
	SignalEventMember    = Interface + "." + SignalEvent
	MethodGetEventsAfter = "GetEventsAfter"
	// MethodGetDevicesInUse lists the opening events of the cameras and
	// microphones in use now.
	MethodGetDevicesInUse = "GetDevicesInUse"
	SignalCoalesced       = "EventsCoalesced"
	// SignalCoalescedMember is the summary signal's full name.
	SignalCoalescedMember = Interface + "." + SignalCoalesced
	// SignalRate and SignalBurst bound Low and Medium Event signals: above
	// them they are folded into EventsCoalesced.
	SignalRate  = 100
	SignalBurst = 200
	// MaxReplyEvents and MaxReplyBytes bound one GetEventsAfter answer
	// (the text of its events, roughly), far below the system bus's
	// message limit (32 MiB): a client pages for more.
	MaxReplyEvents = 1000
	MaxReplyBytes  = 4 << 20
)

// IntrospectXML is the interface, as exported.
//
//go:embed org.pantheros.Secmon1.xml
var IntrospectXML string
