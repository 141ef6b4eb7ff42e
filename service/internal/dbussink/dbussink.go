// Package dbussink puts secmon on the bus: it owns org.pantheros.Secmon,
// exports the interface of dbus/org.pantheros.Secmon1.xml (the contract
// shared with the notifier), and emits one Event signal per event.
//
// Objects are exported before the name is requested, so a client that sees
// the name can call at once. If the bus goes away the daemon goes on
// monitoring and serving its socket and the journal; this sink reconnects,
// re-owns the name, and clients catch up with GetEventsAfter.
package dbussink

import (
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
)

// ErrNameTaken means another process owns org.pantheros.Secmon.
var ErrNameTaken = errors.New("cannot own " + secmondbus.BusName + ": another process owns it (is another secmon-daemon running?)")

// Options configure the sink.
type Options struct {
	// Connect opens the bus (dbus.ConnectSystemBus, ConnectSessionBus, …).
	Connect func(opts ...dbus.ConnOption) (*dbus.Conn, error)
	// BusName names the bus in logs ("system", "session").
	BusName string
	Version string
	Logger  *slog.Logger
	// Status, if set, is told when the bus goes away and comes back
	// ("degraded" or "running", and why), so that the other sinks carry
	// it as a MonitorStatus event. It must not block.
	Status func(state, reason string)
}

// Sink is the D-Bus projection of the hub.
type Sink struct {
	hub *hub.Hub
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	conn     *dbus.Conn
	monitors map[string][2]string     // name → state, reason
	inUse    map[string][]event.Event // device path → its opening events
}

// New returns a sink for h; call Start, then Run.
func New(h *hub.Hub, o Options) *Sink {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sink{hub: h, o: o, log: o.Logger.With("component", "dbus", "bus", o.BusName), monitors: map[string][2]string{}}
}

// Start connects, exports and owns the name. It returns ErrNameTaken when
// another process has it, and another error when no bus can be reached.
func (s *Sink) Start() error {
	conn, err := s.o.Connect()
	if err != nil {
		return fmt.Errorf("cannot connect to the %s bus: %w", s.o.BusName, err)
	}
	if err := s.export(conn); err != nil {
		conn.Close()
		return err
	}
	reply, err := conn.RequestName(secmondbus.BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		conn.Close()
		return fmt.Errorf("cannot request %s: %w", secmondbus.BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner && reply != dbus.RequestNameReplyAlreadyOwner {
		conn.Close()
		return ErrNameTaken
	}
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	s.log.Info("owning " + secmondbus.BusName)
	return nil
}

// Run emits an Event signal per event until ctx ends, reconnecting when the
// bus goes away. Start must have succeeded.
func (s *Sink) Run(ctx context.Context, sub *hub.Sub) error {
	defer func() {
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
	}()
	st := newStorm(time.Now)
	for {
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		if conn == nil {
			if err := s.reconnect(ctx); err != nil {
				return nil // ctx ended
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-conn.Context().Done():
			s.log.Warn("lost the bus; monitoring goes on, reconnecting")
			if s.o.Status != nil {
				s.o.Status("degraded", "lost the "+s.o.BusName+" bus: no Event signals until it is back; the socket and the journal carry every event")
			}
			s.mu.Lock()
			s.conn = nil
			s.mu.Unlock()
			continue
		case <-st.flushC():
			s.emitSummary(conn, st.take())
			continue
		case <-sub.Ready():
		}
		for {
			e, ok := sub.Pop()
			if !ok {
				break
			}
			s.track(conn, e)
			if !st.admit(e) {
				continue // folded into the pending summary
			}
			s.emitSummary(conn, st.take()) // keeps the order: summary first
			if err := conn.Emit(secmondbus.ObjectPath, secmondbus.SignalEventMember, Encode(e).Body()...); err != nil {
				s.log.Debug("cannot emit Event", "seq", e.Seq, "err", err)
			}
		}
	}
}

func (s *Sink) emitSummary(conn *dbus.Conn, sum *secmondbus.Coalesced) {
	if sum == nil {
		return
	}
	if err := conn.Emit(secmondbus.ObjectPath, secmondbus.SignalCoalescedMember, sum.Body()...); err != nil {
		s.log.Debug("cannot emit EventsCoalesced", "err", err)
	}
}

// reconnect retries Start with a growing pause (a timer only while the bus
// is gone), until it succeeds or ctx ends.
func (s *Sink) reconnect(ctx context.Context) error {
	wait := 100 * time.Millisecond
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		err := s.Start()
		if err == nil {
			s.log.Info("back on the bus; clients catch up with GetEventsAfter", "last_seq", s.hub.LastSeq())
			if s.o.Status != nil {
				s.o.Status("running", "back on the "+s.o.BusName+" bus; clients catch up with GetEventsAfter")
			}
			return nil
		}
		s.log.Debug("still no bus", "err", err)
		wait = min(2*wait, 10*time.Second)
	}
}

// Encode turns an event into the signal's arguments: the metadata and the
// process's Detail* keys of the contract in the details.
func Encode(e event.Event) secmondbus.Event {
	d := make(map[string]string, len(e.Metadata)+5)
	for k, v := range e.Metadata {
		d[k] = v
	}
	if p := e.Process; p != nil {
		d[secmondbus.DetailPID] = strconv.Itoa(p.PID)
		if p.Comm != "" {
			d[secmondbus.DetailComm] = p.Comm
		}
		if p.Exe != "" {
			d[secmondbus.DetailExe] = p.Exe
		}
		if p.UID >= 0 {
			d[secmondbus.DetailUID] = strconv.FormatInt(p.UID, 10)
		}
		if p.User != "" {
			d[secmondbus.DetailUser] = p.User
		}
		if p.Unit != "" {
			d[secmondbus.DetailUnit] = p.Unit
		}
		if p.App != "" {
			d[secmondbus.DetailApp] = p.App
		}
	}
	return secmondbus.Event{
		Seq: e.Seq, TimestampUsec: e.Time.UnixMicro(), Type: string(e.Type),
		Severity: e.Severity.String(), Path: e.Path, Description: e.Description, Details: d,
	}
}

// track keeps the Monitors property from MonitorStatus events and tells
// the bus when it changes.
func (s *Sink) track(conn *dbus.Conn, e event.Event) {
	s.trackDevice(e)
	monitor, state, reason, ok := event.StatusOf(e)
	if !ok {
		return
	}
	s.mu.Lock()
	s.monitors[monitor] = [2]string{string(state), reason}
	v := s.monitorsLocked()
	s.mu.Unlock()
	conn.Emit(secmondbus.ObjectPath, "org.freedesktop.DBus.Properties.PropertiesChanged",
		secmondbus.Interface, map[string]dbus.Variant{"Monitors": dbus.MakeVariant(v)}, []string{})
}

// Bounds of the devices-in-use state: device paths, openers of one.
const (
	maxDevices = 64
	maxOpeners = 32
)

// trackDevice keeps the cameras and microphones in use, for
// GetDevicesInUse: an Access event adds its opener, the Released event
// (sent when the last opener let go, or the device went away) ends the
// device's use, and a camera or microphone monitor that stops forgets its
// devices.
func (s *Sink) trackDevice(e event.Event) {
	switch e.Type {
	case event.CameraAccess, event.CameraReleased, event.MicrophoneAccess, event.MicrophoneReleased:
	case event.MonitorStatus:
		if m := e.Metadata["monitor"]; (m == "camera" || m == "microphone") && e.Metadata["state"] != "running" && e.Metadata["state"] != "degraded" {
			s.mu.Lock()
			for p, evs := range s.inUse {
				if deviceKind(evs[0].Type) == m {
					delete(s.inUse, p)
				}
			}
			s.mu.Unlock()
		}
		return
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inUse == nil {
		s.inUse = map[string][]event.Event{}
	}
	switch e.Type {
	case event.CameraReleased, event.MicrophoneReleased:
		delete(s.inUse, e.Path)
	default:
		evs := s.inUse[e.Path]
		if evs == nil && len(s.inUse) >= maxDevices || len(evs) >= maxOpeners {
			return
		}
		s.inUse[e.Path] = append(evs, e)
	}
}

func deviceKind(t event.Type) string {
	if t == event.CameraAccess || t == event.CameraReleased {
		return "camera"
	}
	return "microphone"
}

type monitorState struct{ Name, State, Reason string }

func (s *Sink) monitorsLocked() []monitorState {
	out := make([]monitorState, 0, len(s.monitors))
	for name, st := range s.monitors {
		out = append(out, monitorState{name, st[0], st[1]})
	}
	sortMonitors(out)
	return out
}

func sortMonitors(m []monitorState) {
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && m[j].Name < m[j-1].Name; j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
}

// export puts the object, its properties and its introspection on conn.
func (s *Sink) export(conn *dbus.Conn) error {
	var node introspect.Node
	if err := xml.Unmarshal([]byte(secmondbus.IntrospectXML), &node); err != nil {
		return fmt.Errorf("cannot parse the interface XML: %w", err)
	}
	node.Interfaces = append(node.Interfaces, introspect.IntrospectData, prop.IntrospectData)
	for _, x := range []struct {
		v     any
		iface string
	}{
		{methods{s}, secmondbus.Interface},
		{properties{s}, "org.freedesktop.DBus.Properties"},
		{introspect.NewIntrospectable(&node), "org.freedesktop.DBus.Introspectable"},
	} {
		if err := conn.Export(x.v, secmondbus.ObjectPath, x.iface); err != nil {
			return fmt.Errorf("cannot export %s: %w", x.iface, err)
		}
	}
	return nil
}

type methods struct{ s *Sink }

// GetEventsAfter is the replay method of the contract; each element is
// the Event signal's arguments, (txssssa{ss}).
// An answer holds at most secmondbus.MaxReplyEvents events and about
// MaxReplyBytes of their text (at least one event), whatever max asks: a
// reply above the bus's message limit would never arrive.
func (m methods) GetEventsAfter(after uint64, max uint32) ([]secmondbus.Event, uint64, *dbus.Error) {
	n := int(max)
	if n == 0 || n > secmondbus.MaxReplyEvents {
		n = secmondbus.MaxReplyEvents
	}
	evs, last := m.s.hub.Since(after, n)
	out := make([]secmondbus.Event, 0, len(evs))
	size := 0
	for _, e := range evs {
		enc := Encode(e)
		size += textSize(enc)
		if len(out) > 0 && size > secmondbus.MaxReplyBytes {
			break
		}
		out = append(out, enc)
	}
	return out, last, nil
}

// GetDevicesInUse lists the opening events of the cameras and microphones
// in use now, oldest first.
func (m methods) GetDevicesInUse() ([]secmondbus.Event, *dbus.Error) {
	m.s.mu.Lock()
	var evs []event.Event
	for _, opened := range m.s.inUse {
		evs = append(evs, opened...)
	}
	m.s.mu.Unlock()
	slices.SortFunc(evs, func(a, b event.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	out := make([]secmondbus.Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, Encode(e))
	}
	return out, nil
}

// textSize is roughly what e takes in a message.
func textSize(e secmondbus.Event) int {
	n := 64 + len(e.Type) + len(e.Severity) + len(e.Path) + len(e.Description)
	for k, v := range e.Details {
		n += 16 + len(k) + len(v)
	}
	return n
}

type properties struct{ s *Sink }

func (p properties) values() map[string]dbus.Variant {
	st := p.s.hub.Stats()
	p.s.mu.Lock()
	mons := p.s.monitorsLocked()
	p.s.mu.Unlock()
	return map[string]dbus.Variant{
		"Version":      dbus.MakeVariant(p.s.o.Version),
		"Monitors":     dbus.MakeVariant(mons),
		"EventCount":   dbus.MakeVariant(st.Published),
		"DroppedCount": dbus.MakeVariant(st.Dropped),
		"LastSeq":      dbus.MakeVariant(st.LastSeq),
	}
}

// Get implements org.freedesktop.DBus.Properties; values are computed on
// each call, never stale.
func (p properties) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	if iface != secmondbus.Interface {
		return dbus.Variant{}, prop.ErrIfaceNotFound
	}
	v, ok := p.values()[name]
	if !ok {
		return dbus.Variant{}, prop.ErrPropNotFound
	}
	return v, nil
}

// GetAll implements org.freedesktop.DBus.Properties.
func (p properties) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	if iface != secmondbus.Interface {
		return nil, prop.ErrIfaceNotFound
	}
	return p.values(), nil
}

// Set implements org.freedesktop.DBus.Properties: every property is read-only.
func (p properties) Set(iface, name string, _ dbus.Variant) *dbus.Error {
	return prop.ErrReadOnly
}
