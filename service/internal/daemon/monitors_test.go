package daemon

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
)

// Each row of the monitor table reads its own section: a change to a key
// changes the sections of exactly the monitors that use it, so a reload
// leaves every other monitor running untouched, with its state.
func TestMonitorTable(t *testing.T) {
	env := config.Env{Home: "/home/alice", RuntimeDir: "/run/user/1000", UID: 1000}
	d := &daemon{}
	kinds := d.monitors()
	var names []string
	for _, k := range kinds {
		names = append(names, k.Name)
	}
	if want := []string{"triggers", "correlation", "filesystem", "camera", "microphone", "network", "ssh", "baseline", "usb"}; !slices.Equal(names, want) {
		t.Fatalf("table %v, want %v", names, want)
	}
	base := func() *config.Config {
		c := config.Defaults(config.SystemMode, env)
		c.Triggers = []config.Trigger{{Name: "t", Command: "/bin/true", MinSeverity: event.High}}
		return c
	}
	for _, tc := range []struct {
		name    string
		change  func(*config.Config)
		changed []string // sections that differ (switching off is not a change of section)
		off     []string // monitors switched off
	}{
		{"nothing", func(*config.Config) {}, nil, nil},
		{"log level", func(c *config.Config) { c.LogLevel = "debug" }, nil, nil},
		{"a trigger", func(c *config.Config) { c.Triggers[0].Args = []string{"{path}"} }, []string{"triggers"}, nil},
		{"no triggers", func(c *config.Config) { c.Triggers = nil }, []string{"triggers"}, []string{"triggers"}},
		{"a watch", func(c *config.Config) { c.Watches = c.Watches[1:] }, []string{"filesystem", "baseline"}, nil},
		{"a disabled watch", func(c *config.Config) { off := false; c.Watches[0].Enabled = &off }, []string{"filesystem", "baseline"}, nil},
		{"filesystem off: ssh still needs it", func(c *config.Config) { c.Monitors.Filesystem = false }, []string{"filesystem", "baseline"}, nil},
		{"filesystem and ssh off", func(c *config.Config) { c.Monitors.Filesystem, c.Monitors.SSH = false, false },
			[]string{"filesystem", "baseline"}, []string{"filesystem", "ssh", "baseline"}},
		{"camera devices", func(c *config.Config) { c.Camera.Devices = []string{"/dev/video9"} }, []string{"camera"}, nil},
		{"microphone off", func(c *config.Config) { c.Monitors.Microphone = false }, nil, []string{"microphone"}},
		{"allowed listeners", func(c *config.Config) { c.Network.AllowedListeners = []string{"sshd"} }, []string{"network"}, nil},
		{"port scan window", func(c *config.Config) { c.Network.PortScanWindowSeconds = 5 }, []string{"network"}, nil},
		{"brute-force threshold: the filesystem monitor keeps running", func(c *config.Config) { c.SSH.BruteForceThreshold = 9 }, []string{"ssh"}, nil},
		{"ssh auth log", func(c *config.Config) { c.SSH.AuthLog = "/var/log/secure" }, []string{"ssh"}, nil},
		{"home_root: the ssh monitor's watches move", func(c *config.Config) { c.SSH.HomeRoot = "/srv/home" }, []string{"correlation", "filesystem", "ssh", "baseline"}, nil},
		{"ssh off: its watches go", func(c *config.Config) { c.Monitors.SSH = false }, []string{"filesystem", "baseline"}, []string{"ssh"}},
		{"state directory: usb keeps its devices there, ssh its journal cursor", func(c *config.Config) { c.StateDirectory = "/srv/secmon" }, []string{"ssh", "baseline", "usb"}, nil},
		{"usb off", func(c *config.Config) { c.Monitors.USB = false }, nil, []string{"usb"}},
		{"a correlation window", func(c *config.Config) { c.Correlation.BadUSBWindowSeconds = 60 }, []string{"correlation"}, nil},
		{"one correlation rule off", func(c *config.Config) { c.Correlation.DoorOpened = false }, []string{"correlation"}, nil},
		{"every correlation rule off", func(c *config.Config) {
			r := &c.Correlation
			r.PersistenceAfterLogin, r.BadUSB, r.WatchingWhileAway, r.DoorOpened, r.BackdoorListener = false, false, false, false, false
		}, []string{"correlation"}, []string{"correlation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			tc.change(b)
			var changed, off []string
			for _, k := range kinds {
				sa, onA := k.Section(a)
				sb, onB := k.Section(b)
				if !onA {
					t.Fatalf("%s is off in the defaults", k.Name)
				}
				if !onB {
					off = append(off, k.Name)
				}
				if !reflect.DeepEqual(sa, sb) {
					changed = append(changed, k.Name)
				}
			}
			if !slices.Equal(changed, tc.changed) || !slices.Equal(off, tc.off) {
				t.Errorf("changed %v, off %v; want changed %v, off %v", changed, off, tc.changed, tc.off)
			}
		})
	}
}

// The correlation rules are all on by default, with the windows the
// example config and secmon.toml(5) give.
func TestCorrelationDefaults(t *testing.T) {
	s, on := correlationOf(config.Defaults(config.SystemMode, config.Env{Home: "/root"}))
	r := s.Rules
	got := []time.Duration{r.PersistenceAfterLogin.Window, r.BadUSB.Window, r.WatchingWhileAway.Window, r.DoorOpened.Window, r.BackdoorListener.Window}
	want := []time.Duration{900 * time.Second, 30 * time.Second, time.Minute, 600 * time.Second, time.Hour}
	if !on || !slices.Equal(got, want) || !r.PersistenceAfterLogin.Enabled || !r.BadUSB.Enabled || !r.WatchingWhileAway.Enabled ||
		!r.DoorOpened.Enabled || !r.BackdoorListener.Enabled || s.HomeRoot != "/home" {
		t.Errorf("defaults %+v (on %v), windows %v, want %v", s, on, got, want)
	}
}

func TestOpenedAt(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	cam := func(typ event.Type, path string, s int) event.Event {
		return event.Event{Type: typ, Path: path, Time: at(s)}
	}
	kept := []event.Event{
		cam(event.CameraAccess, "/dev/video0", 10), cam(event.CameraReleased, "/dev/video0", 20),
		cam(event.CameraAccess, "/dev/video0", 30), cam(event.CameraAccess, "/dev/video0", 35), // a second opener
		cam(event.CameraAccess, "/dev/video1", 40), cam(event.CameraReleased, "/dev/video1", 50),
	}
	for _, tt := range []struct {
		node string
		want time.Time
	}{
		{"/dev/video0", at(30)},
		{"/dev/video1", time.Time{}}, // released
		{"/dev/video2", time.Time{}}, // never seen
	} {
		if got := openedAt(kept, tt.node); !got.Equal(tt.want) {
			t.Errorf("openedAt(%s) = %v, want %v", tt.node, got, tt.want)
		}
	}
}
