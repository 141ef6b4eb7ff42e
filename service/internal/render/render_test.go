package render_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/render"
)

func TestLine(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.Local)
	tests := []struct {
		name  string
		e     event.Event
		color bool
		want  string
	}{
		{"plain", event.Event{Seq: 7, Time: ts, Type: event.FileCreate, Severity: event.Medium, Description: "Created /x"}, false,
			"2026-01-02 03:04:05.006  MEDIUM    FileCreate          Created /x  #7"},
		{"process", event.Event{Seq: 8, Time: ts, Type: event.CameraAccess, Severity: event.High, Description: "Camera in use",
			Process: &event.Process{PID: 42, Comm: "firefox", User: "alice"}}, false,
			"2026-01-02 03:04:05.006  HIGH      CameraAccess        Camera in use  [firefox pid 42 user alice]  #8"},
		{"colour", event.Event{Seq: 9, Time: ts, Type: event.SshAccess, Severity: event.Critical, Description: "d"}, true,
			"2026-01-02 03:04:05.006  \x1b[1;97;41mCRITICAL\x1b[0m  SshAccess           d  #9"},
		{"escapes control characters", event.Event{Time: ts, Type: event.FileCreate, Severity: event.Low, Description: "Created /tmp/\x1b[2Jevil\nname"}, false,
			`2026-01-02 03:04:05.006  LOW       FileCreate          Created /tmp/\x1b[2Jevil\nname`},
		{"escapes bidirectional and zero-width characters", event.Event{Time: ts, Type: event.FileCreate, Severity: event.Low, Description: "Created /tmp/invoice\u202egpj.exe\u200b",
			Process: &event.Process{PID: 1, Comm: "a\u2066b"}}, false,
			`2026-01-02 03:04:05.006  LOW       FileCreate          Created /tmp/invoice\u202egpj.exe\u200b  [a\u2066b pid 1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render.Line(tt.e, tt.color)
			if got != tt.want {
				t.Fatalf("\n got %q\nwant %q", got, tt.want)
			}
			if !tt.color && strings.ContainsRune(got, 0x1b) {
				t.Fatalf("uncoloured line carries an escape: %q", got)
			}
		})
	}
}
