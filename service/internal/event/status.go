package event

// State is what a MonitorStatus says about a monitor (or another part of
// the daemon that can lose something: the journal, the bus, the state
// directory, the configuration).
type State string

// The states a MonitorStatus carries.
const (
	// Running: everything the part is meant to see is seen.
	Running State = "running"
	// Degraded: it runs, but something is not seen; the reason says what.
	Degraded State = "degraded"
	// Unavailable: it cannot run here (no udev, no journal socket).
	Unavailable State = "unavailable"
	// Failed: it stopped on an error.
	Failed State = "failed"
	// ReloadFailed: a new configuration was refused; the old one runs on.
	ReloadFailed State = "reload-failed"
)

// Status is the one way to build a MonitorStatus event: monitor is the part
// ("filesystem", "ssh", "usb", "state", …), reason says why in words a user
// can act on. The metadata keys are the ones the type table lists; D-Bus's
// Monitors property and the notifier read them back with [Event.Status].
func Status(monitor string, state State, sev Severity, reason string) Event {
	return Event{
		Type: MonitorStatus, Severity: sev,
		Description: monitor + " monitor " + string(state) + ": " + reason,
		Metadata:    map[string]string{"monitor": monitor, "state": string(state), "reason": reason},
	}
}

// StatusOf returns what a MonitorStatus built by [Status] says; ok is
// false for any other event.
func StatusOf(e Event) (monitor string, state State, reason string, ok bool) {
	if e.Type != MonitorStatus || e.Metadata["monitor"] == "" {
		return "", "", "", false
	}
	return e.Metadata["monitor"], State(e.Metadata["state"]), e.Metadata["reason"], true
}
