package incident_test

import (
	"fmt"
	"testing"
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/incident"
)

var t0 = time.Date(2025, 9, 25, 14, 30, 0, 0, time.UTC)

var seq uint64

func ev(typ, sev, path string, details map[string]string) secmondbus.Event {
	seq++
	if details == nil {
		details = map[string]string{}
	}
	return secmondbus.Event{Seq: seq, TimestampUsec: t0.UnixMicro(), Type: typ, Severity: sev, Path: path, Description: typ + " " + path, Details: details}
}

func file(name string) secmondbus.Event {
	return ev("FileCreate", "Medium", "/etc/nixos/"+name, map[string]string{"watch": "/etc/nixos"})
}

func ids(incs []*incident.Incident) []uint64 {
	var out []uint64
	for _, i := range incs {
		out = append(out, i.ID)
	}
	return out
}

// A burst is one notification and one update with the whole count.
func TestStormIsShownOnceThenUpdatedOnce(t *testing.T) {
	tr := incident.New()
	first := tr.Add(file("0"), t0)
	if len(first) != 1 || first[0].Count != 1 {
		t.Fatalf("first event: %v, want shown at once", ids(first))
	}
	for i := 1; i < 200; i++ {
		if got := tr.Add(file(fmt.Sprint(i)), t0.Add(time.Duration(i)*time.Millisecond)); len(got) != 0 {
			t.Fatalf("event %d shown at once (%v); updates wait for the interval", i, ids(got))
		}
	}
	if next := tr.Next(); !next.Equal(t0.Add(incident.FirstInterval)) {
		t.Fatalf("Next() = %v, want %v", next, t0.Add(incident.FirstInterval))
	}
	if got := tr.Due(t0.Add(500 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("due early: %v", ids(got))
	}
	got := tr.Due(t0.Add(incident.FirstInterval))
	if len(got) != 1 || got[0].ID != first[0].ID || got[0].Count != 200 || got[0].ByType["FileCreate"] != 200 {
		t.Fatalf("due: %+v, want the same incident counting 200", got)
	}
	if !tr.Next().IsZero() || len(tr.Due(t0.Add(time.Hour))) != 0 {
		t.Fatal("something still waits after the update")
	}
}

// Updates of a long incident come ever more rarely, up to MaxInterval.
func TestUpdateIntervalDoubles(t *testing.T) {
	tr := incident.New()
	now := t0
	tr.Add(file("x"), now)
	var gaps []time.Duration
	last := now
	for now.Before(t0.Add(time.Minute)) {
		now = now.Add(100 * time.Millisecond)
		if len(tr.Add(file("x"), now))+len(tr.Due(now)) == 1 {
			gaps = append(gaps, now.Sub(last))
			last = now
		}
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, incident.MaxInterval, incident.MaxInterval}
	for i, w := range want {
		if i >= len(gaps) || gaps[i] != w {
			t.Fatalf("gaps between updates %v, want %v…", gaps, want)
		}
	}
}

// A camera use is one incident from access to release; the next access is
// a new one, and a release still waiting is shown before it.
func TestDeviceUse(t *testing.T) {
	tr := incident.New()
	open := ev("CameraAccess", "High", "/dev/video0", map[string]string{"comm": "firefox", "pid": "4242"})
	in := tr.Add(open, t0)
	if len(in) != 1 || in[0].Class != incident.Device || in[0].Openers[0] != "firefox (pid 4242)" || in[0].Released {
		t.Fatalf("access: %+v", in)
	}
	if got := tr.Add(ev("CameraReleased", "Medium", "/dev/video0", map[string]string{"duration_ms": "300"}), t0.Add(300*time.Millisecond)); len(got) != 0 {
		t.Fatalf("a release 300 ms after the access was shown at once: %v", ids(got))
	}
	again := tr.Add(ev("CameraAccess", "High", "/dev/video0", map[string]string{"comm": "zoom", "pid": "7"}), t0.Add(400*time.Millisecond))
	if len(again) != 2 || again[0].ID != in[0].ID || !again[0].Released || again[1].ID == in[0].ID || again[1].Openers[0] != "zoom (pid 7)" {
		t.Fatalf("new access while the release waits: %+v, want the release, then a new incident", again)
	}
	if tr.Len() != 1 {
		t.Errorf("%d incidents held, want 1 (the new use)", tr.Len())
	}
}

func TestGrouping(t *testing.T) {
	for _, tt := range []struct {
		name  string
		a, b  secmondbus.Event
		gap   time.Duration
		joint bool
	}{
		{"same watch within the window", file("a"), file("b"), time.Second, true},
		{"same watch after the window", file("a"), file("b"), incident.StormWindow + time.Millisecond, false},
		{"critical is never folded into medium", file("a"),
			ev("SshAccess", "Critical", "/etc/nixos/.ssh/authorized_keys", map[string]string{"watch": "/etc/nixos"}), 0, false},
		{"other watch", file("a"), ev("FileCreate", "Medium", "/home/a/x", map[string]string{"watch": "/home/a"}), 0, false},
		{"ssh failures from one address", ev("SshLoginFailed", "Low", "", map[string]string{"remote_ip": "192.0.2.1"}),
			ev("SshLoginFailed", "Low", "", map[string]string{"remote_ip": "192.0.2.1"}), 5 * time.Minute, true},
		{"ssh failures from two addresses", ev("SshLoginFailed", "Low", "", map[string]string{"remote_ip": "192.0.2.1"}),
			ev("SshLoginFailed", "Low", "", map[string]string{"remote_ip": "192.0.2.2"}), 0, false},
		{"two usb devices", ev("UsbDeviceInserted", "Medium", "", map[string]string{"vendor_id": "1", "product_id": "2"}),
			ev("UsbDeviceInserted", "Medium", "", map[string]string{"vendor_id": "1", "product_id": "3"}), 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := incident.New()
			a := tr.Add(tt.a, t0)
			b := tr.Add(tt.b, t0.Add(tt.gap))
			b = append(b, tr.Due(t0.Add(time.Hour))...)
			if len(a) != 1 || len(b) != 1 {
				t.Fatalf("shown %v then %v", ids(a), ids(b))
			}
			if joint := a[0].ID == b[0].ID; joint != tt.joint {
				t.Fatalf("same incident = %v, want %v", joint, tt.joint)
			}
			if tt.joint && b[0].Count != 2 {
				t.Fatalf("count %d, want 2", b[0].Count)
			}
		})
	}
}

// After End, the next event of the kind is a new notification.
func TestEnd(t *testing.T) {
	tr := incident.New()
	a := tr.Add(file("a"), t0)
	tr.End(a[0].ID)
	b := tr.Add(file("b"), t0.Add(time.Millisecond))
	if len(b) != 1 || b[0].ID == a[0].ID {
		t.Fatalf("after End: %v, want a new incident shown at once", ids(b))
	}
}

func TestSource(t *testing.T) {
	for _, tt := range []struct {
		e    secmondbus.Event
		want string
	}{
		{file("a"), "watch:/etc/nixos"},
		{ev("FileModify", "Low", "/x/y", nil), "watch:/x"},
		{ev("CameraAccess", "High", "/dev/video0", map[string]string{"comm": "firefox"}), "program:firefox"},
		{ev("CameraAccess", "High", "/dev/video0", map[string]string{"comm": "bwrap", "app": "org.mozilla.firefox"}), "program:org.mozilla.firefox"},
		{ev("CameraAccess", "High", "/dev/video0", nil), "program:unknown"},
		{ev("CameraReleased", "Medium", "/dev/video0", nil), "device:/dev/video0"},
		{ev("SshBruteForce", "High", "", map[string]string{"remote_ip": "192.0.2.9"}), "address:192.0.2.9"},
		{ev("NetworkListen", "High", "", map[string]string{"port": "8080"}), "port:8080"},
		{ev("UsbDeviceInserted", "Medium", "", map[string]string{"vendor_id": "0781", "product_id": "5581"}), "usb:0781:5581"},
		{ev("MonitorStatus", "Medium", "", map[string]string{"monitor": "usb"}), "monitor:usb"},
		{ev("Incident", "Critical", "/dev/video0", map[string]string{"rule": "watching_while_away", "comm": "ffmpeg"}), "rule:watching_while_away"},
		{ev("CustomMessage", "Low", "/p", nil), "path:/p"},
	} {
		if got := incident.Source(tt.e); got != tt.want {
			t.Errorf("Source(%s %s %v) = %q, want %q", tt.e.Type, tt.e.Path, tt.e.Details, got, tt.want)
		}
	}
}
