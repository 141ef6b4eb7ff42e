package dbussink_test

import (
	"maps"
	"testing"
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/service/internal/dbussink"
	"github.com/pantheros/secmon/service/internal/event"
)

// An event becomes the contract's Event: the metadata and the process's
// Detail* keys, nothing unknown, and it decodes back from its body.
func TestEncode(t *testing.T) {
	at := time.Date(2025, 9, 25, 14, 30, 45, 123456000, time.UTC)
	for _, tt := range []struct {
		name    string
		process *event.Process
		want    map[string]string
	}{
		{"no process", nil, map[string]string{"watch": "/etc"}},
		{"every field", &event.Process{PID: 42, Comm: "firefox", Exe: "/usr/lib/firefox/firefox", UID: 1000, User: "alice",
			Unit: "app-firefox.scope", App: "org.mozilla.firefox"},
			map[string]string{"watch": "/etc", secmondbus.DetailPID: "42", secmondbus.DetailComm: "firefox",
				secmondbus.DetailExe: "/usr/lib/firefox/firefox", secmondbus.DetailUID: "1000", secmondbus.DetailUser: "alice",
				secmondbus.DetailUnit: "app-firefox.scope", secmondbus.DetailApp: "org.mozilla.firefox"}},
		{"only a pid, uid unknown", &event.Process{PID: 7, UID: -1}, map[string]string{"watch": "/etc", secmondbus.DetailPID: "7"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := event.Event{Seq: 9, Time: at, Type: event.FileCreate, Severity: event.Medium, Path: "/etc/x",
				Description: "d", Metadata: map[string]string{"watch": "/etc"}, Process: tt.process}
			got := dbussink.Encode(e)
			if got.Seq != 9 || got.TimestampUsec != at.UnixMicro() || got.Type != secmondbus.TypeFileCreate ||
				got.Severity != secmondbus.SeverityMedium || got.Path != "/etc/x" || got.Description != "d" {
				t.Errorf("Encode = %+v", got)
			}
			if !maps.Equal(got.Details, tt.want) {
				t.Errorf("details %v, want %v", got.Details, tt.want)
			}
			back, err := secmondbus.DecodeEvent(got.Body())
			if err != nil || !maps.Equal(back.Details, tt.want) || back.Seq != 9 {
				t.Errorf("DecodeEvent(Body()) = %+v, %v", back, err)
			}
		})
	}
}
