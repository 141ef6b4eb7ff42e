// Package event is secmon's one event model: every monitor produces an
// [Event], and every sink (JSON socket, journal, D-Bus, triggers, terminal)
// projects the same value.
//
// The JSON form keeps the shape of the original secmon-daemon so that scripts
// written for it keep working:
//
//	{"timestamp":"2025-09-25T14:30:45.123Z","seq":42,
//	 "event_type":{"type":"CameraAccess"},"path":"/dev/video0",
//	 "details":{"severity":"High","description":"…","metadata":{"mask":"OPEN"}},
//	 "process":{"pid":4242,"comm":"firefox","exe":"/usr/bin/firefox","uid":1000,"user":"alice"}}
//
// seq and process are additions; process is omitted when the source cannot
// know who acted.
package event

import (
	"encoding/json"
	"fmt"
	"time"
)

// TimeLayout is RFC 3339 in UTC with milliseconds and a Z, as the seed wrote it.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Event is one thing secmon saw.
type Event struct {
	// Seq is assigned by the hub: it only grows while the daemon runs and
	// resumes above the last value after a restart. Zero means "not from the
	// hub's sequence" (a per-client EventsDropped notice, say).
	Seq  uint64
	Time time.Time
	Type Type
	// Path is the file, device or address the event is about; may be empty.
	Path        string
	Severity    Severity
	Description string
	// Metadata holds type-specific string values (see the type table).
	Metadata map[string]string
	// Process is who acted, when the source can know it.
	Process *Process

	// line is the JSON line shared by the copies of a published event
	// (Shared); nil for any other.
	line *sharedLine
}

// Process is the program behind an event.
type Process struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm,omitempty"`
	Exe  string `json:"exe,omitempty"`
	// UID is -1 when unknown.
	UID  int64  `json:"uid"`
	User string `json:"user,omitempty"`
	// Unit is the systemd unit (.service or .scope) its cgroup names.
	Unit string `json:"unit,omitempty"`
	// App is the Flatpak app id when it runs in a Flatpak scope.
	App string `json:"app,omitempty"`
}

type jsonEvent struct {
	Timestamp string      `json:"timestamp"`
	Seq       uint64      `json:"seq"`
	EventType jsonType    `json:"event_type"`
	Path      string      `json:"path"`
	Details   jsonDetails `json:"details"`
	Process   *Process    `json:"process,omitempty"`
}

type jsonType struct {
	Type Type `json:"type"`
}

type jsonDetails struct {
	Severity    Severity          `json:"severity"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
}

// MarshalJSON writes the seed's shape plus seq and process.
func (e Event) MarshalJSON() ([]byte, error) {
	md := e.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return json.Marshal(jsonEvent{
		Timestamp: e.Time.UTC().Format(TimeLayout),
		Seq:       e.Seq,
		EventType: jsonType{Type: e.Type},
		Path:      e.Path,
		Details:   jsonDetails{Severity: e.Severity, Description: e.Description, Metadata: md},
		Process:   e.Process,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j jsonEvent
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, j.Timestamp)
	if err != nil {
		return fmt.Errorf("cannot parse timestamp: %w", err)
	}
	*e = Event{
		Seq:         j.Seq,
		Time:        t,
		Type:        j.EventType.Type,
		Path:        j.Path,
		Severity:    j.Details.Severity,
		Description: j.Details.Description,
		Metadata:    j.Details.Metadata,
		Process:     j.Process,
	}
	return nil
}
