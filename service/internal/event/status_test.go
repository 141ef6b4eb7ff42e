package event_test

import (
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
)

// A status carries exactly the metadata keys its type lists, and StatusOf
// reads back what Status wrote.
func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		monitor string
		state   event.State
		sev     event.Severity
		reason  string
		desc    string
	}{
		{"usb", event.Running, event.Low, "udev events", "usb monitor running: udev events"},
		{"ssh", event.Degraded, event.Medium, "a, b", "ssh monitor degraded: a, b"},
		{"config", event.ReloadFailed, event.Medium, "f:1:2: bad", "config monitor reload-failed: f:1:2: bad"},
	} {
		e := event.Status(tc.monitor, tc.state, tc.sev, tc.reason)
		if e.Type != event.MonitorStatus || e.Severity != tc.sev || e.Description != tc.desc {
			t.Errorf("Status(%q, %q) = %+v", tc.monitor, tc.state, e)
		}
		ti := event.Info(e.Type)
		if len(e.Metadata) != len(ti.MetadataKeys) {
			t.Errorf("metadata %v, want the keys %v", e.Metadata, ti.MetadataKeys)
		}
		for _, k := range ti.MetadataKeys {
			if _, ok := e.Metadata[k]; !ok {
				t.Errorf("metadata %v lacks %s", e.Metadata, k)
			}
		}
		m, st, r, ok := event.StatusOf(e)
		if !ok || m != tc.monitor || st != tc.state || r != tc.reason {
			t.Errorf("StatusOf = %q %q %q %v", m, st, r, ok)
		}
	}
	if _, _, _, ok := event.StatusOf(event.Event{Type: event.FileCreate, Metadata: map[string]string{"monitor": "x"}}); ok {
		t.Error("StatusOf accepted a FileCreate")
	}
}
