package config_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
)

var env = config.Env{Home: "/home/alice", RuntimeDir: "/run/user/1000", UID: 1000}

func TestErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name, toml, want string
	}{
		{"unknown key", "log_level = \"info\"\n[monitors]\ncameraa = true\n", "c.toml:3:1: key monitors.cameraa: unknown key"},
		{"wrong type", "socket_path = 42\n", "c.toml:1:15: key socket_path:"},
		{"bad severity", "[[watches]]\npath = \"/x\"\nseverity = \"Hgh\"\n", "c.toml:3:12: key watches.severity: unknown severity \"Hgh\""},
		{"bad event type", "[[triggers]]\nname = \"t\"\ncommand = \"/bin/true\"\nevent_types = [\"Nope\"]\n", "c.toml:4:1: key triggers.0.event_types: unknown event type \"Nope\""},
		{"relative watch", "[[watches]]\npath = \"/ok\"\n[[watches]]\npath = \"rel\"\n", "c.toml:4:1: key watches.1.path: must be an absolute path"},
		{"watch without path", "[[watches]]\ndescription = \"x\"\n", "c.toml:1:3: key watches.0: a watch needs a path or a pattern"},
		{"shell-like command", "[[triggers]]\nname = \"t\"\ncommand = \"notify-send hi\"\n", "c.toml:3:1: key triggers.0.command: is run without a shell"},
		{"bad mode", "socket_mode = \"0999\"\n", "c.toml:1:15: key socket_mode: socket mode \"0999\""},
		{"bad log level", "log_level = \"loud\"\n", "key log_level: unknown log level"},
		{"syntax", "socket_path = \n", "c.toml:1:"},
		{"scan threshold", "[network]\nport_scan_threshold = 1\n", "c.toml:2:1: key network.port_scan_threshold: must be between 2 and 1024, not 1"},
		{"scan window", "[network]\nport_scan_window_seconds = 0\n", "c.toml:2:1: key network.port_scan_window_seconds: must be between 1"},
		{"rate limit", "[network]\nconnection_rate_limit_seconds = -1\n", "c.toml:2:1: key network.connection_rate_limit_seconds: must be between 0"},
		{"relative listener", "[network]\nallowed_listeners = [\"sshd\", \"bin/sshd\"]\n", "c.toml:2:1: key network.allowed_listeners: \"bin/sshd\" is neither"},
		{"long comm", "[network]\nallowed_listeners = [\"a-very-long-daemon-name\"]\n", "key network.allowed_listeners: \"a-very-long-daemon-name\" is longer than a comm"},
		{"correlation window", "[correlation]\nbadusb = true\nbadusb_window_seconds = 0\n", "c.toml:3:1: key correlation.badusb_window_seconds: must be between 1"},
		{"correlation unknown rule", "[correlation]\nkeylogger = true\n", "c.toml:2:1: key correlation.keylogger:"},
		{"scan window type", "[network]\nport_scan_window_seconds = \"60s\"\n", "c.toml:2:28: key network.port_scan_window_seconds:"},
		{"long socket path", "socket_path = \"/" + strings.Repeat("x", 120) + "\"\n", "shorter than 108"},
		{"relative home root", "[ssh]\nhome_root = \"home\"\n", "c.toml:2:1: key ssh.home_root: must be an absolute path"},
		{"empty home root", "[ssh]\nhome_root = \"\"\n", "c.toml:2:1: key ssh.home_root: must be an absolute path"},
		{"relative auth log", "[ssh]\nauth_log = \"auth.log\"\n", "c.toml:2:1: key ssh.auth_log: must be an absolute path"},
		{"journal and auth log", "[ssh]\njournal_directory = \"/j\"\nauth_log = \"/var/log/auth.log\"\n", "c.toml:3:1: key ssh.auth_log: set either journal_directory"},
		{"threshold", "[ssh]\nbrute_force_threshold = 0\n", "c.toml:2:1: key ssh.brute_force_threshold: must be from 1 to 100 failures, not 0"},
		{"window", "[ssh]\nbrute_force_window_seconds = -5\n", "c.toml:2:1: key ssh.brute_force_window_seconds: must be from 1 to 86400 seconds"},
		{"window as a duration", "[ssh]\nbrute_force_window_seconds = \"10m\"\n", "c.toml:2:30: key ssh.brute_force_window_seconds:"},
		// Bounds (issue 14.6): each of these passed --check and then took
		// the machine's memory, overflowed a duration, or said no place.
		{"log level a number", "log_level = 5\n", "c.toml:1:1: key log_level: unknown log level \"5\""},
		{"huge replay buffer", "replay_buffer = 999999999\n", "c.toml:1:1: key replay_buffer: must be from 1 to 200000 events, not 999999999"},
		{"huge client queue", "client_queue = 99999999999\n", "c.toml:1:1: key client_queue: must be from 16 to"},
		{"huge trigger timeout", "[[triggers]]\nname = \"t\"\ncommand = \"/bin/true\"\ntimeout_seconds = 9223372036854775807\n", "c.toml:4:1: key triggers.0.timeout_seconds: must be from 0 to 604800 seconds"},
		{"huge cooldown", "[[triggers]]\nname = \"t\"\ncommand = \"/bin/true\"\ncooldown_seconds = 99999999999\n", "c.toml:4:1: key triggers.0.cooldown_seconds: must be from 0 to 604800 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("c.toml", []byte(tt.toml), config.SystemMode, env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	u := config.Defaults(config.UserMode, env)
	if u.SocketPath != "/run/user/1000/secmon/secmon.sock" || u.SocketMode != 0o600 {
		t.Errorf("user socket %s %o", u.SocketPath, u.SocketMode)
	}
	var paths []string
	for _, w := range u.EnabledWatches() {
		paths = append(paths, w.Path)
	}
	if u.SSH.UserHome != "/home/alice" || config.Defaults(config.SystemMode, env).SSH.UserHome != "" {
		t.Errorf("ssh user_home %q, want the home in user mode only", u.SSH.UserHome)
	}
	for _, want := range []string{"/home/alice/.config/autostart", "/home/alice/.bashrc", "/home/alice/.profile"} {
		if !contains(paths, want) {
			t.Errorf("user-mode watches %v lack %s", paths, want)
		}
	}
	for _, w := range u.Watches {
		if strings.HasSuffix(w.Path, "/.bashrc") && w.Severity != event.Medium {
			t.Errorf("~/.bashrc watch severity %v, want Medium: login files are persistence", w.Severity)
		}
	}
	s := config.Defaults(config.SystemMode, env)
	if s.SocketPath != "/run/secmon/secmon.sock" || s.SocketMode != 0o660 || !s.Monitors.Camera {
		t.Errorf("system defaults %+v", s)
	}
	if n := s.Network; n.PortScanThreshold != 10 || n.PortScanWindowSeconds != 60 || n.ConnectionRateLimitSeconds != 60 || len(n.AllowedListeners) != 0 {
		t.Errorf("network defaults %+v, want the seed's 10 ports in 60 s", n)
	}
}

func TestWatchesAbsentEmptyAndGiven(t *testing.T) {
	c, err := config.Parse("c.toml", []byte("log_level = \"debug\"\n"), config.UserMode, env)
	if err != nil || len(c.Watches) == 0 {
		t.Fatalf("absent watches: %v, %d watches; want the defaults", err, len(c.Watches))
	}
	c, err = config.Parse("c.toml", []byte("watches = []\n"), config.UserMode, env)
	if err != nil || len(c.Watches) != 0 {
		t.Fatalf("empty watches: %v, %d watches; want none", err, len(c.Watches))
	}
	c, err = config.Parse("c.toml", []byte("[[watches]]\npath = \"~/notes\"\nenabled = false\n"), config.UserMode, env)
	if err != nil || len(c.Watches) != 1 || c.Watches[0].Path != "/home/alice/notes" || c.Watches[0].IsEnabled() {
		t.Fatalf("given watches: %v, %+v", err, c.Watches)
	}
}

// The example in data/ is valid, and shows every key the decoder knows.
func TestExampleCoversEveryKey(t *testing.T) {
	const file = "../../../data/secmon.example.toml"
	c, err := config.Load(file, config.SystemMode, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Triggers) != 1 || c.Triggers[0].MinSeverity != event.High || len(c.Watches) != 2 {
		t.Fatalf("example decoded to %+v", c)
	}
	data, _ := os.ReadFile(file)
	for _, key := range tomlKeys(reflect.TypeOf(config.Config{})) {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = `).Match(data) {
			t.Errorf("the example config does not show key %q", key)
		}
	}
}

func tomlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if tag == "" || tag == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(ft.Elem())...)
			continue
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(ft)...)
			continue
		}
		keys = append(keys, tag)
	}
	return keys
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
