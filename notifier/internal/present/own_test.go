package present_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/notifier/internal/incident"
	"github.com/pantheros/secmon/notifier/internal/present"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestMuteLabel(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{time.Hour, "Mute for 1 hour"},
		{3 * time.Hour, "Mute for 3 hours"},
		{30 * time.Minute, "Mute for 30 minutes"},
		{90 * time.Minute, "Mute for 1 hour 30 minutes"},
	} {
		if got := present.MuteLabel(tt.d); got != tt.want {
			t.Errorf("MuteLabel(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestMuteScope(t *testing.T) {
	for _, tt := range []struct {
		name  string
		mutes []incident.MuteKey
		want  string
	}{
		{"none", nil, ""},
		{"a watch", []incident.MuteKey{{Type: "FileCreate", Source: "watch:/etc"}}, "new files under /etc"},
		{"a program, twice", []incident.MuteKey{{Type: "CameraAccess", Source: "program:firefox"}, {Type: "CameraAccess", Source: "program:firefox"}}, "camera uses by firefox"},
		{"an address and a port", []incident.MuteKey{{Type: "SshLoginFailed", Source: "address:192.0.2.7"}, {Type: "NetworkListen", Source: "port:4444"}},
			"failed SSH logins from 192.0.2.7; listening ports on port 4444"},
		{"a USB device", []incident.MuteKey{{Type: "UsbDeviceInserted", Source: "usb:046d:c52b"}}, "USB devices plugged in for USB device 046d:c52b"},
		{"an incident's rule", []incident.MuteKey{{Type: "Incident", Source: "rule:badusb"}}, "possible attacks of the kind a new USB keyboard starting programs"},
		{"an unknown kind", []incident.MuteKey{{Type: "CustomMessage", Source: "other:x"}}, "messages for x"},
	} {
		if got := present.MuteScope(tt.mutes); got != tt.want {
			t.Errorf("%s: MuteScope = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// The notifier's own notes and status lines, as golden text.
func TestOwnWordsGolden(t *testing.T) {
	at := time.Date(2025, 9, 25, 14, 30, 45, 0, time.UTC)
	st := present.Style{Location: time.UTC, Now: func() time.Time { return at }}
	inUse := st.Incident(feed(ev("CameraAccess", "High", "/dev/video0", "", map[string]string{"comm": "firefox", "pid": "4242"}, 0)))
	notes := []struct {
		name string
		n    present.Note
	}{
		{"DaemonAbsent", st.DaemonAbsent(at)},
		{"DaemonBack", st.DaemonBack(at)},
		{"Denied", st.Denied(at)},
		{"ConfigRefused", st.ConfigRefused(errors.New("notifier.toml:3:1: key min_severity: unknown severity \"Severe\""))},
		{"Muted", st.Muted(inUse, "camera uses by firefox", at.Add(time.Hour))},
		{"Unmuted", st.Unmuted("new files under /etc", at)},
		{"Held", st.Held("while muted (new files under /etc)", 811, 3, map[string]int{"FileCreate": 2, "FileDelete": 1}, at)},
		{"Away", st.Away(811, 12, map[string]int{"FileCreate": 10, "UsbDeviceRemoved": 1, "NetworkListen": 1}, at)},
		{"Coalesced", st.Coalesced(811, 790, map[string]uint32{"FileCreate": 780, "FileModify": 10}, at)},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "AppName: %s\nLabelDetails: %s\nLabelUnmute: %s\nMuteLabel(1h): %s\n", present.AppName, present.LabelDetails, present.LabelUnmute, present.MuteLabel(time.Hour))
	fmt.Fprintf(&b, "UnmuteReply(0): %s\nUnmuteReply(2): %s\n", present.UnmuteReply(0), present.UnmuteReply(2))
	fmt.Fprintf(&b, "StatusStarting: %s\nStatusWaiting: %s\nStatusDenied: %s\nStatusFollowing(42): %s\n",
		present.StatusStarting, present.StatusWaiting, present.StatusDenied, present.StatusFollowing(42))
	for _, n := range notes {
		fmt.Fprintf(&b, "\n== %s\nsummary: %s\nbody:\n  %s\nicon: %s  material: %s  urgency: %d  resident: %v\n",
			n.name, n.n.Summary, strings.ReplaceAll(n.n.Body, "\n", "\n  "), n.n.Icon, n.n.Material, n.n.Urgency, n.n.Resident)
	}
	golden(t, "testdata/own.golden", b.String())
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
