// Package incident decides which events share one notification, and when
// that notification may be updated.
//
// An incident is one thing happening: a camera in use until it is released,
// a burst of file changes under one watch, repeated SSH failures from one
// address. Its first event is shown at once; later events update the same
// notification in place (the desktop side reuses its replaces_id), at most
// once per interval, an interval that doubles while the incident goes on, so
// a storm of 200 file changes is one notification and one update carrying
// the count, and nothing is dropped without being counted.
//
// Source names the kind of thing that caused an event (a watched tree, a
// program, an address); "Mute for 1 hour" mutes event types for one source.
package incident

import (
	"cmp"
	"path/filepath"
	"slices"
	"sort"
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

// Class says how an incident groups its events.
type Class int

const (
	// Group gathers events of one kind within a window after the last one.
	Group Class = iota
	// Device is a camera or microphone in use: it lasts until released.
	Device
)

// Windows: how long after its last event an incident still takes new ones.
const (
	// StormWindow groups bursts (file changes, repeated events).
	StormWindow = 2 * time.Second
	// AttackWindow groups what an attacker repeats (SSH failures, scans).
	AttackWindow = 10 * time.Minute
)

// Throttle bounds updates: the first update waits at least FirstInterval
// after the notification was shown, each later one twice as long as the
// last, up to MaxInterval.
const (
	FirstInterval = time.Second
	MaxInterval   = 10 * time.Second
)

// MuteKey is one (event type, source) pair a mute can cover.
type MuteKey struct{ Type, Source string }

// Incident is what one notification shows. Fields are updated by the
// Tracker; read them only between its calls.
type Incident struct {
	// ID is unique for the tracker's life: a new incident with the same
	// key is a new notification.
	ID     uint64
	Key    string
	Class  Class
	Source string
	// First and Last are the first and the latest event.
	First, Last secmondbus.Event
	Count       int
	// ByType counts events per type; Types lists the types in first-seen
	// order.
	ByType map[string]int
	Types  []string
	// Severity is the highest seen.
	Severity severity.Level
	// Openers names who opened a device, in order, without repeats;
	// OpenerDetails holds each one's event details (for naming its
	// application).
	Openers       []string
	OpenerDetails []map[string]string
	// Released is set when the device's last opener closed it.
	Released bool
	// Mutes are the (type, source) pairs "Mute" should cover.
	Mutes []MuteKey

	lastAdd  time.Time // wall clock of the latest event taken
	shown    time.Time // wall clock of the latest show
	interval time.Duration
	dirty    bool
}

// Tracker holds the open incidents. It is not safe for concurrent use.
type Tracker struct {
	incidents map[string]*Incident
	nextID    uint64
}

// New returns an empty tracker.
func New() *Tracker { return &Tracker{incidents: map[string]*Incident{}} }

// Add files e at wall-clock time now and returns the incidents to show now,
// in order: none when the update must wait (Next says until when), the
// incident itself, or, when e starts a new use of a device whose release is
// still waiting to be shown, that release first.
func (t *Tracker) Add(e secmondbus.Event, now time.Time) []*Incident {
	t.sweep(now)
	key, class, window := classify(e)
	var out []*Incident
	inc := t.incidents[key]
	if inc != nil && inc.Class == Device && inc.Released && isAccess(e.Type) {
		// A new use: its release must not be overwritten by it.
		if inc.dirty {
			t.markShown(inc, now)
			out = append(out, inc)
		}
		delete(t.incidents, key)
		inc = nil
	}
	if inc != nil && class == Group && now.Sub(inc.lastAdd) > window {
		if inc.dirty {
			t.markShown(inc, now)
			out = append(out, inc)
		}
		delete(t.incidents, key)
		inc = nil
	}
	if inc == nil {
		t.nextID++
		inc = &Incident{ID: t.nextID, Key: key, Class: class, Source: Source(e), First: e, ByType: map[string]int{}}
		t.incidents[key] = inc
		inc.take(e, now)
		t.markShown(inc, now)
		return append(out, inc)
	}
	inc.take(e, now)
	if now.Sub(inc.shown) >= inc.interval {
		t.markShown(inc, now)
		return append(out, inc)
	}
	inc.dirty = true
	return out
}

// Due returns the incidents whose waiting update may be shown at now.
func (t *Tracker) Due(now time.Time) []*Incident {
	var out []*Incident
	for _, inc := range t.incidents {
		if inc.dirty && !now.Before(inc.shown.Add(inc.interval)) {
			out = append(out, inc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	for _, inc := range out {
		t.markShown(inc, now)
	}
	t.sweep(now)
	return out
}

// Next is when the earliest waiting update is due; zero when none waits.
func (t *Tracker) Next() time.Time {
	var next time.Time
	for _, inc := range t.incidents {
		if !inc.dirty {
			continue
		}
		if at := inc.shown.Add(inc.interval); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

// End forgets the incident with id, so that the next event of its kind
// starts a new notification (after a mute, say).
func (t *Tracker) End(id uint64) {
	for k, inc := range t.incidents {
		if inc.ID == id {
			delete(t.incidents, k)
		}
	}
}

// Devices returns the cameras and microphones in use, as far as the
// tracker knows: its device incidents not released.
func (t *Tracker) Devices() []*Incident {
	var out []*Incident
	for _, inc := range t.incidents {
		if inc.Class == Device && !inc.Released {
			out = append(out, inc)
		}
	}
	slices.SortFunc(out, func(a, b *Incident) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (t *Tracker) markShown(inc *Incident, now time.Time) {
	if inc.shown.IsZero() {
		inc.interval = FirstInterval
	} else {
		inc.interval = min(2*inc.interval, MaxInterval)
	}
	inc.shown = now
	inc.dirty = false
}

// sweep drops incidents that take no more events and have nothing waiting:
// groups past their window, devices shown released.
func (t *Tracker) sweep(now time.Time) {
	for k, inc := range t.incidents {
		if inc.dirty {
			continue
		}
		_, _, window := classify(inc.Last)
		switch {
		case inc.Class == Device && inc.Released:
			delete(t.incidents, k)
		case inc.Class == Group && now.Sub(inc.lastAdd) > window:
			delete(t.incidents, k)
		}
	}
}

func (inc *Incident) take(e secmondbus.Event, now time.Time) {
	inc.Last = e
	inc.Count++
	if inc.ByType[e.Type] == 0 {
		inc.Types = append(inc.Types, e.Type)
	}
	inc.ByType[e.Type]++
	if s := severity.Of(e.Severity); s > inc.Severity || inc.Count == 1 {
		inc.Severity = s
	}
	inc.lastAdd = now
	if inc.Class == Device {
		if isAccess(e.Type) {
			inc.Released = false
			if w := Opener(e); !slices.Contains(inc.Openers, w) {
				inc.Openers = append(inc.Openers, w)
				inc.OpenerDetails = append(inc.OpenerDetails, e.Details)
			}
		} else {
			inc.Released = true
		}
	}
	if !isReleased(e.Type) {
		m := MuteKey{e.Type, Source(e)}
		if !slices.Contains(inc.Mutes, m) {
			inc.Mutes = append(inc.Mutes, m)
		}
	}
}

// classify gives an event's incident key, class and window.
func classify(e secmondbus.Event) (string, Class, time.Duration) {
	d := e.Details
	switch e.Type {
	case "CameraAccess", "CameraReleased":
		return "camera|" + e.Path, Device, 0
	case "MicrophoneAccess", "MicrophoneReleased":
		return "microphone|" + e.Path, Device, 0
	case "SshLoginFailed":
		return "ssh-failed|" + d["remote_ip"], Group, AttackWindow
	case "SshBruteForce":
		return "ssh-brute|" + d["remote_ip"], Group, AttackWindow
	case "PortScanDetected":
		return "port-scan|" + d["remote_ip"], Group, AttackWindow
	}
	if IsFile(e.Type) {
		// Severity splits the group: a Critical change is never folded
		// into a burst of Medium ones.
		return "files|" + Watch(e) + "|" + e.Severity, Group, StormWindow
	}
	return e.Type + "|" + Source(e), Group, StormWindow
}

// IsFile says whether t is a filesystem event type (SshAccess included: it
// is a file under a watched SSH directory).
func IsFile(t string) bool {
	switch t {
	case "FileCreate", "FileModify", "FileDelete", "FileAccess", "FileMove", "FileAttrib", "SshAccess":
		return true
	}
	return false
}

func isAccess(t string) bool   { return t == "CameraAccess" || t == "MicrophoneAccess" }
func isReleased(t string) bool { return t == "CameraReleased" || t == "MicrophoneReleased" }

// IsDeviceRelease says whether t ends a camera or microphone use.
func IsDeviceRelease(t string) bool { return isReleased(t) }

// IsDeviceAccess says whether t starts a camera or microphone use.
func IsDeviceAccess(t string) bool { return isAccess(t) }

// Watch is the watched tree a file event belongs to: the watch the daemon
// names, else the file's directory.
func Watch(e secmondbus.Event) string {
	if w := e.Details["watch"]; w != "" {
		return w
	}
	return filepath.Dir(e.Path)
}

// Source names the kind of source of e, as "kind:value": the watched tree
// for file events, the program for device use and network activity, the
// remote address for SSH and scans, the device IDs for USB.
func Source(e secmondbus.Event) string {
	d := e.Details
	// A program is named by its executable's path where the daemon knew
	// it: comm and the app id are whatever the program chose.
	program := func() string {
		for _, k := range []string{secmondbus.DetailExe, secmondbus.DetailApp, secmondbus.DetailComm} {
			if d[k] != "" {
				return "program:" + d[k]
			}
		}
		return ""
	}
	switch {
	case IsFile(e.Type):
		return "watch:" + Watch(e)
	case isAccess(e.Type):
		if p := program(); p != "" {
			return p
		}
		return "program:unknown"
	case isReleased(e.Type):
		return "device:" + e.Path
	}
	switch e.Type {
	case "SshLogin", "SshLoginFailed", "SshBruteForce", "PortScanDetected":
		return "address:" + d["remote_ip"]
	case "NetworkConnection":
		if p := program(); p != "" {
			return p
		}
		return "address:" + d["remote_address"]
	case "NetworkListen":
		if p := program(); p != "" {
			return p
		}
		return "port:" + d["port"]
	case "UsbDeviceInserted", "UsbDeviceRemoved":
		return "usb:" + d["vendor_id"] + ":" + d["product_id"]
	case "Incident":
		// One rule of the daemon's correlation: muting an incident mutes
		// that rule, not every possible attack.
		return "rule:" + d["rule"]
	case "MonitorStatus":
		return "monitor:" + d["monitor"]
	case "EventsDropped":
		return "reason:" + d["reason"]
	}
	if p := program(); p != "" {
		return p
	}
	return "path:" + e.Path
}

// Opener names who opened a device: "firefox (pid 4242)", or "an unknown
// program".
func Opener(e secmondbus.Event) string {
	d := e.Details
	name := d[secmondbus.DetailApp]
	if name == "" {
		name = d[secmondbus.DetailComm]
	}
	switch {
	case name != "" && d[secmondbus.DetailPID] != "":
		return name + " (pid " + d[secmondbus.DetailPID] + ")"
	case name != "":
		return name
	case d[secmondbus.DetailPID] != "":
		return "pid " + d[secmondbus.DetailPID]
	}
	return "an unknown program"
}
