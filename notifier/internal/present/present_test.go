package present_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/incident"
	"github.com/pantheros/secmon/notifier/internal/present"
)

var t0 = time.Date(2025, 9, 25, 14, 30, 45, 0, time.UTC)

func ev(typ, sev, path, desc string, d map[string]string, at time.Duration) secmondbus.Event {
	if d == nil {
		d = map[string]string{}
	}
	return secmondbus.Event{Seq: 1, TimestampUsec: t0.Add(at).UnixMicro(), Type: typ, Severity: sev, Path: path, Description: desc, Details: d}
}

// feed files events into a tracker and returns the incident to show last.
func feed(es ...secmondbus.Event) *incident.Incident {
	tr := incident.New()
	var last *incident.Incident
	for _, e := range es {
		for _, inc := range tr.Add(e, t0) {
			last = inc
		}
	}
	for _, inc := range tr.Due(t0.Add(time.Hour)) {
		last = inc
	}
	return last
}

func TestIncident(t *testing.T) {
	st := present.Style{Location: time.UTC}
	firefox := map[string]string{"comm": "firefox", "pid": "4242", "user": "alice"}
	var storm []secmondbus.Event
	for i := range 37 {
		op := "FileCreate"
		if i%10 == 9 {
			op = "FileDelete"
		}
		storm = append(storm, ev(op, "Medium", fmt.Sprintf("/etc/nixos/f%d", i), "", map[string]string{"watch": "/etc/nixos", "description": "NixOS configuration"}, time.Duration(i)*time.Millisecond))
	}
	for _, tt := range []struct {
		name                string
		inc                 *incident.Incident
		summary, body, icon string
		urgency             present.Urgency
		resident            bool
	}{
		{"camera in use", feed(ev("CameraAccess", "High", "/dev/video0", "", firefox, 0)),
			"Camera in use", "firefox (pid 4242) opened /dev/video0\nsince 14:30:45", "camera-web", present.UrgencyCritical, true},
		{"camera released", feed(ev("CameraAccess", "High", "/dev/video0", "", firefox, 0),
			ev("CameraReleased", "Medium", "/dev/video0", "", map[string]string{"duration_ms": "123000"}, 123*time.Second)),
			"Camera released", "firefox (pid 4242) used /dev/video0, released after 2 min\nat 14:32:48", "camera-web", present.UrgencyNormal, false},
		{"microphone released, use seen by nobody", feed(ev("MicrophoneReleased", "Medium", "/dev/snd/pcmC0D0c", "", map[string]string{"duration_ms": "5000"}, 0)),
			"Microphone released", "/dev/snd/pcmC0D0c released after 5 s\nat 14:30:45", "audio-input-microphone", present.UrgencyNormal, false},
		{"one file", feed(ev("SshAccess", "Critical", "/home/alice/.ssh/authorized_keys", "Created /home/alice/.ssh/authorized_keys (your SSH keys)", nil, 0)),
			"SSH keys or configuration changed", "Created /home/alice/.ssh/authorized_keys (your SSH keys)\nat 14:30:45", "security-high", present.UrgencyCritical, false},
		{"a storm", feed(storm...),
			"37 file changes under /etc/nixos", "37 changes in /etc/nixos (NixOS configuration): 34 created, 3 deleted\nlatest: /etc/nixos/f36 at 14:30:45", "security-medium", present.UrgencyNormal, false},
		{"listening, with the process", feed(ev("NetworkListen", "High", "", "nc listens on 0.0.0.0:4444", map[string]string{"comm": "nc", "pid": "99", "user": "bob", "port": "4444"}, 0)),
			"Listening port", "nc listens on 0.0.0.0:4444\nby nc (pid 99, user bob)\nat 14:30:45", "network-wired", present.UrgencyCritical, false},
		{"repeated ssh failures", feed(
			ev("SshLoginFailed", "Low", "", "Failed password for root from 192.0.2.7", map[string]string{"remote_ip": "192.0.2.7"}, 0),
			ev("SshLoginFailed", "Low", "", "Failed password for admin from 192.0.2.7", map[string]string{"remote_ip": "192.0.2.7"}, 3*time.Second)),
			"Failed SSH login from 192.0.2.7 (2×)", "Failed password for admin from 192.0.2.7\n2 times since 14:30:45, last at 14:30:48", "security-low", present.UrgencyLow, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := st.Incident(tt.inc)
			if n.Summary != tt.summary || n.Body != tt.body || n.Icon != tt.icon || n.Urgency != tt.urgency || n.Resident != tt.resident {
				t.Errorf("got\n%q\n%q\n%s %d %v\nwant\n%q\n%q\n%s %d %v", n.Summary, n.Body, n.Icon, n.Urgency, n.Resident,
					tt.summary, tt.body, tt.icon, tt.urgency, tt.resident)
			}
		})
	}
}

// Event text cannot inject control characters or change how the text
// reads (markup is escaped by package desktop at send time: notes are plain
// text), and overrides win.
func TestUntrustedTextAndOverrides(t *testing.T) {
	st := present.Style{Location: time.UTC,
		Urgency: map[string]present.Urgency{"FileCreate": present.UrgencyCritical}, Icon: map[string]string{"FileCreate": "folder-new"}}
	n := st.Incident(feed(ev("FileCreate", "Medium", "/tmp/<b>x</b>", "Created /tmp/<b>x</b>&\x1b[31m\nfake line\u202egpj.exe", nil, 0)))
	if !strings.Contains(n.Body, "/tmp/<b>x</b>&") {
		t.Errorf("the plain text was changed: %q", n.Body)
	}
	if strings.ContainsRune(n.Body, 0x1b) || strings.Count(n.Body, "\n") != 1 || !strings.Contains(n.Body, `\x1b[31m\nfake line\u202egpj.exe`) {
		t.Errorf("control or bidirectional characters not escaped: %q", n.Body)
	}
	if n.Urgency != present.UrgencyCritical || n.Icon != "folder-new" {
		t.Errorf("overrides ignored: urgency %d icon %q", n.Urgency, n.Icon)
	}
	long := st.Incident(feed(ev("FileCreate", "Medium", "/x", strings.Repeat("é", 2000), nil, 0)))
	if len(long.Body) > 1000 || !strings.HasSuffix(long.Body, "…") {
		t.Errorf("a long body is %d bytes, ends %q", len(long.Body), long.Body[len(long.Body)-8:])
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 s"}, {44 * time.Second, "44 s"}, {90 * time.Second, "2 min"}, {59 * time.Minute, "59 min"},
		{time.Hour, "1 h"}, {65 * time.Minute, "1 h 5 min"},
	} {
		if got := present.Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestEveryTypeHasWords(t *testing.T) {
	st := present.Style{}
	for _, typ := range secmondbus.Types() {
		n := st.Incident(feed(ev(typ, "Medium", "/p", "d", nil, 0)))
		if n.Summary == "" || n.Icon == "" || n.Body == "" {
			t.Errorf("%s: %+v", typ, n)
		}
	}
}

// The wording covers exactly the contract's types: none is worded only
// from its name, and none is worded that the daemon never sends.
func TestWordingCoversTheContract(t *testing.T) {
	worded := present.WordedTypes()
	slices.Sort(worded)
	contract := slices.Sorted(slices.Values(secmondbus.Types()))
	if !slices.Equal(worded, contract) {
		t.Fatalf("worded types\n%q\ncontract's\n%q", worded, contract)
	}
}

// A type a newer daemon adds is shown, worded from its name.
func TestUnknownTypeIsWordedFromItsName(t *testing.T) {
	n := present.Style{Location: time.UTC}.Incident(feed(ev("BluetoothPaired", "High", "", "d", nil, 0)))
	if n.Summary != "Bluetooth paired" || n.Icon != "security-high" || n.Urgency != present.UrgencyCritical {
		t.Errorf("got %q %s %d", n.Summary, n.Icon, n.Urgency)
	}
}
