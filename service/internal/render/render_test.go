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

func TestFull(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.Local)
	got := render.Full(event.Event{Seq: 812, Time: ts, Type: event.SshAccess, Severity: event.Critical,
		Path: "/home/alice/.ssh/authorized_keys", Description: "Modified /home/alice/.ssh/authorized_keys\x1b[2J",
		Metadata: map[string]string{"watch": "/home/alice/.ssh", "op": "WRITE"},
		Process:  &event.Process{PID: 42, Comm: "sh", UID: 1000, User: "alice"}})
	for _, want := range []string{
		"Event:       812\n", "Severity:    Critical\n", "Type:        SshAccess\n",
		"Meaning:     an SSH key or sshd configuration file changed",
		"Path:        /home/alice/.ssh/authorized_keys\n", `authorized_keys\x1b[2J` + "\n",
		"Program:     sh\n", "User:        alice (uid 1000)\n",
		"Details:\n  op:            WRITE\n  watch:         /home/alice/.ssh\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.ContainsRune(got, 0x1b) {
		t.Errorf("an escape reached the page: %q", got)
	}
}
