package filter_test

import (
	"testing"
	"time"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/config"
	"github.com/pantheros/secmon/notifier/internal/filter"
	"github.com/pantheros/secmon/notifier/internal/incident"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

var noon = time.Date(2025, 9, 25, 12, 0, 0, 0, time.UTC)

func ev(typ, sev, path string, d map[string]string) secmondbus.Event {
	if d == nil {
		d = map[string]string{}
	}
	return secmondbus.Event{Seq: 1, Type: typ, Severity: sev, Path: path, Details: d}
}

func parse(t *testing.T, toml string) *config.Config {
	t.Helper()
	c, err := config.Parse("notifier.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigured(t *testing.T) {
	cfg := parse(t, `
muted_types = ["UsbDeviceRemoved"]
[types.SshLoginFailed]
min_severity = "Low"
[types.NetworkListen]
min_severity = "Critical"
`)
	for _, tt := range []struct {
		e    secmondbus.Event
		want filter.Verdict
	}{
		{ev("FileModify", "Low", "/x", nil), filter.Excluded},
		{ev("FileCreate", "Medium", "/x", nil), filter.Show},
		{ev("SshLoginFailed", "Low", "", nil), filter.Show},
		{ev("NetworkListen", "High", "", nil), filter.Excluded},
		{ev("UsbDeviceRemoved", "Critical", "", nil), filter.Excluded},
		{ev("SomethingNew", "Severe", "", nil), filter.Show}, // unknown severity counts as Medium
		// Expected states are not popups; problems are.
		{ev("MonitorStatus", "Medium", "", map[string]string{"monitor": "journal", "state": "unavailable"}), filter.Excluded},
		{ev("MonitorStatus", "Medium", "", map[string]string{"monitor": "usb", "state": "disabled"}), filter.Excluded},
		{ev("MonitorStatus", "Low", "", map[string]string{"monitor": "camera", "state": "running"}), filter.Excluded},
		{ev("MonitorStatus", "Medium", "", map[string]string{"monitor": "camera", "state": "degraded"}), filter.Show},
		{ev("MonitorStatus", "High", "", map[string]string{"monitor": "filesystem", "state": "failed"}), filter.Show},
	} {
		if got := filter.New(cfg).Check(tt.e, noon); got != tt.want {
			t.Errorf("%s %s: %v, want %v", tt.e.Type, tt.e.Severity, got, tt.want)
		}
	}
}

// A mute holds back one (type, source) until it ends, and then hands back
// the count.
func TestMute(t *testing.T) {
	f := filter.New(config.Defaults())
	nixos := map[string]string{"watch": "/etc/nixos"}
	f.Mute([]incident.MuteKey{{Type: "FileCreate", Source: "watch:/etc/nixos"}}, "FileCreate under /etc/nixos", noon.Add(time.Hour))
	if next := f.Next(); !next.Equal(noon.Add(time.Hour)) {
		t.Fatalf("Next() = %v", next)
	}
	for range 3 {
		if v := f.Check(ev("FileCreate", "Medium", "/etc/nixos/a", nixos), noon); v != filter.Muted {
			t.Fatalf("muted kind: %v", v)
		}
	}
	if v := f.Check(ev("FileDelete", "Medium", "/etc/nixos/a", nixos), noon); v != filter.Show {
		t.Errorf("another type under the same watch: %v, want show", v)
	}
	if v := f.Check(ev("FileCreate", "Medium", "/home/a/x", map[string]string{"watch": "/home/a"}), noon); v != filter.Show {
		t.Errorf("the same type under another watch: %v, want show", v)
	}
	if got := f.Due(noon.Add(59 * time.Minute)); len(got) != 0 {
		t.Fatalf("due before the end: %+v", got)
	}
	got := f.Due(noon.Add(time.Hour))
	if len(got) != 1 || got[0].Count != 3 || got[0].ByType["FileCreate"] != 3 {
		t.Fatalf("at the end: %+v, want one summary of 3", got)
	}
	if v := f.Check(ev("FileCreate", "Medium", "/etc/nixos/a", nixos), noon.Add(time.Hour)); v != filter.Show {
		t.Errorf("after the mute: %v", v)
	}
	if !f.Next().IsZero() {
		t.Error("something still due")
	}
}

func TestQuietHours(t *testing.T) {
	f := filter.New(parse(t, "[quiet_hours]\nstart = \"22:00\"\nend = \"07:00\"\n"))
	night := time.Date(2025, 9, 25, 23, 30, 0, 0, time.UTC)
	if v := f.Check(ev("FileCreate", "Medium", "/x", nil), noon); v != filter.Show {
		t.Errorf("at noon: %v", v)
	}
	if v := f.Check(ev("CameraAccess", "High", "/dev/video0", nil), night); v != filter.Quiet {
		t.Errorf("High at night: %v, want quiet", v)
	}
	if v := f.Check(ev("SshAccess", "Critical", "/root/.ssh/authorized_keys", nil), night); v != filter.Show {
		t.Errorf("Critical at night: %v, want show", v)
	}
	// The release follows its access, whatever the hour.
	if v := f.Check(ev("CameraReleased", "Medium", "/dev/video0", nil), night.Add(10*time.Hour)); v != filter.Quiet {
		t.Errorf("release of a quiet use: %v, want quiet", v)
	}
	morning := time.Date(2025, 9, 26, 7, 0, 0, 0, time.UTC)
	if next := f.Next(); !next.Equal(morning) {
		t.Fatalf("Next() = %v, want %v", next, morning)
	}
	got := f.Due(morning)
	if len(got) != 1 || got[0].Count != 2 || got[0].Why != "during quiet hours" {
		t.Fatalf("at the end: %+v", got)
	}
}

// A use shown is released shown, even below the minimum severity; a use
// muted is released muted.
func TestReleaseFollowsAccess(t *testing.T) {
	cfg := config.Defaults()
	cfg.MinSeverity = severity.High
	f := filter.New(cfg)
	if v := f.Check(ev("CameraAccess", "High", "/dev/video0", map[string]string{"comm": "firefox"}), noon); v != filter.Show {
		t.Fatalf("access: %v", v)
	}
	if v := f.Check(ev("CameraReleased", "Medium", "/dev/video0", nil), noon); v != filter.Show {
		t.Fatalf("release of a shown use: %v, want show", v)
	}
	if v := f.Check(ev("CameraReleased", "Medium", "/dev/video0", nil), noon); v != filter.Excluded {
		t.Fatalf("a release with no access seen: %v, want the configured rule (excluded below High)", v)
	}
	f.Mute([]incident.MuteKey{{Type: "CameraAccess", Source: "program:zoom"}}, "CameraAccess by zoom", noon.Add(time.Hour))
	f.Check(ev("CameraAccess", "High", "/dev/video1", map[string]string{"comm": "zoom"}), noon)
	if v := f.Check(ev("CameraReleased", "Medium", "/dev/video1", nil), noon); v != filter.Muted {
		t.Fatalf("release of a muted use: %v", v)
	}
	if got := f.Due(noon.Add(time.Hour)); len(got) != 1 || got[0].Count != 2 {
		t.Fatalf("held: %+v, want the access and its release", got)
	}
}

// Unmuting ends a mute at once and hands back what it held; other mutes
// stay.
func TestUnmute(t *testing.T) {
	f := filter.New(config.Defaults())
	a := ev("FileCreate", "Medium", "/etc/x", map[string]string{"watch": "/etc"})
	b := ev("FileCreate", "Medium", "/home/x", map[string]string{"watch": "/home"})
	ka := incident.MuteKey{Type: "FileCreate", Source: incident.Source(a)}
	kb := incident.MuteKey{Type: "FileCreate", Source: incident.Source(b)}
	f.Mute([]incident.MuteKey{ka}, "new files under /etc", noon.Add(time.Hour))
	f.Mute([]incident.MuteKey{kb}, "new files under /home", noon.Add(time.Hour))
	a.Seq = 7
	if v := f.Check(a, noon); v != filter.Muted {
		t.Fatalf("muted: %v", v)
	}
	held := f.Unmute([]incident.MuteKey{ka}, noon.Add(time.Minute))
	if len(held) != 1 || held[0].Count != 1 || held[0].After != 6 {
		t.Fatalf("held %+v, want one event after seq 6", held)
	}
	if v := f.Check(a, noon.Add(2*time.Minute)); v != filter.Show {
		t.Errorf("after Unmute: %v, want show", v)
	}
	if v := f.Check(b, noon.Add(2*time.Minute)); v != filter.Muted || f.Muting(noon.Add(2*time.Minute)) != 1 {
		t.Errorf("the other mute ended too: %v", v)
	}
	f.Unmute(nil, noon.Add(3*time.Minute))
	if f.Muting(noon.Add(3*time.Minute)) != 0 {
		t.Error("Unmute(nil) left a mute on")
	}
}
