package present_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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

// The words of every event type, and of the cases worded apart, as a
// reviewed golden text (go test -update rewrites it; read the diff).
func TestWordsGolden(t *testing.T) {
	st := present.Style{Location: time.UTC, Now: func() time.Time { return t0 },
		AppName: func(d map[string]string) string {
			if d["comm"] == "firefox-bin" {
				return "Firefox"
			}
			return ""
		}}
	firefox := map[string]string{"comm": "firefox-bin", "pid": "4242", "user": "alice", "exe": "/usr/lib/firefox/firefox-bin"}
	ssh := func(op string, extra ...string) map[string]string {
		d := map[string]string{"watch": "/home/alice/.ssh", "description": "your SSH keys", "op": op, "ssh_file": "authorized_keys"}
		for i := 0; i+1 < len(extra); i += 2 {
			d[extra[i]] = extra[i+1]
		}
		return d
	}
	nixos := func(op string) map[string]string {
		return map[string]string{"watch": "/etc/nixos", "description": "NixOS configuration", "op": op}
	}
	var storm []secmondbus.Event
	for i := range 37 {
		op, typ := "CREATE", "FileCreate"
		if i%10 == 9 {
			op, typ = "REMOVE", "FileDelete"
		}
		e := ev(typ, "Medium", fmt.Sprintf("/etc/nixos/f%d", i), "", nixos(op), time.Duration(i)*time.Millisecond)
		e.Seq = uint64(100 + i)
		storm = append(storm, e)
	}
	deep := "/home/alice/.config/autostart/" + strings.Repeat("very-long-directory-name/", 60) + "evil.desktop"
	cases := []struct {
		name string
		inc  *incident.Incident
	}{
		{"FileCreate", feed(ev("FileCreate", "Medium", "/etc/nixos/extra.nix", "Created /etc/nixos/extra.nix (NixOS configuration)", nixos("CREATE"), 0))},
		{"FileCreate, a folder, no description", feed(ev("FileCreate", "Medium", "/srv/www/new", "Created /srv/www/new", map[string]string{"watch": "/srv/www", "op": "CREATE", "is_dir": "true"}, 0))},
		{"FileModify, a watch marked High", feed(ev("FileModify", "High", "/home/alice/.config/autostart/app.desktop", "", map[string]string{"watch": "/home/alice/.config/autostart", "description": "programs started at login", "op": "WRITE"}, 0))},
		{"FileDelete", feed(ev("FileDelete", "Medium", "/etc/nixos/old.nix", "", nixos("REMOVE"), 0))},
		{"FileAccess", feed(ev("FileAccess", "Low", "/etc/shadow", "", map[string]string{"watch": "/etc/shadow", "description": "password hashes", "mask": "OPEN", "comm": "cat", "pid": "77", "user": "bob"}, 0))},
		{"FileMove", feed(ev("FileMove", "Medium", "/etc/nixos/hosts.nix", "", nixos("RENAME"), 0))},
		{"FileAttrib", feed(ev("FileAttrib", "Low", "/etc/sudoers", "", map[string]string{"watch": "/etc/sudoers", "description": "who may use sudo", "op": "CHMOD"}, 0))},
		{"a long path", feed(ev("FileCreate", "High", deep, "", map[string]string{"watch": "/home/alice/.config/autostart", "description": "programs started at login", "op": "CREATE"}, 0))},
		{"SshAccess, authorized_keys created", feed(ev("SshAccess", "Critical", "/home/alice/.ssh/authorized_keys", "Created /home/alice/.ssh/authorized_keys (your SSH keys)", ssh("CREATE"), 0))},
		{"SshAccess, authorized_keys written", feed(ev("SshAccess", "Critical", "/home/alice/.ssh/authorized_keys", "", ssh("WRITE"), 0))},
		{"SshAccess, a key added (what the daemon may add)", feed(ev("SshAccess", "Critical", "/home/alice/.ssh/authorized_keys", "",
			ssh("WRITE", "key_type", "ssh-ed25519", "key_fingerprint", "SHA256:2g1sX0kJkS1rR8kqyWw0sY6mZ3d0fQ0X8m3yQ5Yp7aA", "key_comment", "mallory@evil"), 0))},
		{"SshAccess, authorized_keys written by a named process in an SSH session", feed(ev("SshAccess", "Critical", "/home/alice/.ssh/authorized_keys", "",
			ssh("WRITE", "comm", "bash", "pid", "4242", "uid", "1000", "user", "alice", "exe", "/usr/bin/bash", "ssh_from", "203.0.113.9"), 0))},
		{"FileCreate, a systemd unit created by a named process", feed(ev("FileCreate", "Medium", "/etc/systemd/system/evil.service", "",
			map[string]string{"watch": "/etc/systemd/system", "op": "CREATE", "comm": "cp", "pid": "977", "user": "root", "uid": "0"}, 0))},
		{"SshAccess, root's keys removed", feed(ev("SshAccess", "Critical", "/root/.ssh/authorized_keys", "", map[string]string{"watch": "/root/.ssh", "op": "REMOVE", "ssh_file": "authorized_keys"}, 0))},
		{"SshAccess, sshd_config", feed(ev("SshAccess", "High", "/etc/ssh/sshd_config", "", map[string]string{"watch": "/etc/ssh", "op": "WRITE", "ssh_file": "sshd_config"}, 0))},
		{"SshAccess, a private key", feed(ev("SshAccess", "High", "/home/alice/.ssh/id_ed25519", "", map[string]string{"watch": "/home/alice/.ssh", "op": "CHMOD", "ssh_file": "id_ed25519"}, 0))},
		{"a storm", feed(storm...)},
		{"CameraAccess", feed(ev("CameraAccess", "High", "/dev/video0", "", firefox, 0))},
		{"CameraAccess, an unknown program", feed(ev("CameraAccess", "High", "/dev/video0", "", map[string]string{"attribution": "unknown"}, 0))},
		{"CameraAccess, through PipeWire", feed(ev("CameraAccess", "High", "/dev/video0", "", map[string]string{"comm": "pipewire", "pid": "900", "broker": "pipewire", "client": "Firefox"}, 0))},
		{"CameraReleased", feed(ev("CameraAccess", "High", "/dev/video0", "", firefox, 0),
			ev("CameraReleased", "Medium", "/dev/video0", "", map[string]string{"duration_ms": "123000"}, 123*time.Second))},
		{"MicrophoneAccess", feed(ev("MicrophoneAccess", "High", "/dev/snd/pcmC0D0c", "", map[string]string{"comm": "arecord", "pid": "31", "user": "alice"}, 0))},
		{"MicrophoneReleased, use seen by nobody", feed(ev("MicrophoneReleased", "Medium", "/dev/snd/pcmC0D0c", "", map[string]string{"duration_ms": "5000"}, 0))},
		{"SshLogin", feed(ev("SshLogin", "High", "", "Accepted password for root from 203.0.113.9", map[string]string{"user": "root", "remote_ip": "203.0.113.9", "remote_port": "50122", "method": "password"}, 0))},
		{"SshLogin with a key", feed(ev("SshLogin", "Medium", "", "", map[string]string{"user": "alice", "remote_ip": "192.0.2.10", "method": "publickey", "fingerprint": "ED25519 SHA256:abc"}, 0))},
		{"SshLoginFailed", feed(ev("SshLoginFailed", "Low", "", "Failed password for root from 192.0.2.7", map[string]string{"user": "root", "remote_ip": "192.0.2.7", "reason": "wrong password"}, 0))},
		{"SshLoginFailed, repeated", feed(
			ev("SshLoginFailed", "Low", "", "Failed password for root from 192.0.2.7", map[string]string{"remote_ip": "192.0.2.7"}, 0),
			ev("SshLoginFailed", "Low", "", "Failed password for admin from 192.0.2.7", map[string]string{"remote_ip": "192.0.2.7"}, 3*time.Second))},
		{"SshBruteForce", feed(ev("SshBruteForce", "High", "", "", map[string]string{"remote_ip": "192.0.2.7", "count": "5", "window_seconds": "600", "users": "root, admin"}, 0))},
		{"SshLogSpoofed", feed(ev("SshLogSpoofed", "Medium", "", "", map[string]string{"claimed": "sshd", "sender_comm": "logger", "sender_exe": "/usr/bin/logger", "sender_uid": "1000",
			"message": "Accepted password for root from 203.0.113.9 port 22 ssh2"}, 0))},
		{"NetworkConnection", feed(ev("NetworkConnection", "Low", "", "curl connected to 198.51.100.4:443", map[string]string{"comm": "curl", "pid": "55", "remote_address": "198.51.100.4", "remote_port": "443"}, 0))},
		{"NetworkListen", feed(ev("NetworkListen", "High", "0.0.0.0:4444", "nc listens on TCP 0.0.0.0:4444 (reachable from the network)", map[string]string{"comm": "nc", "pid": "99", "user": "bob", "address": "0.0.0.0", "port": "4444", "state": "listening"}, 0))},
		{"NetworkListen, loopback", feed(ev("NetworkListen", "Low", "127.0.0.1:8080", "python3 listens on TCP 127.0.0.1:8080 (loopback only)", map[string]string{"comm": "python3", "pid": "98", "address": "127.0.0.1", "port": "8080", "state": "listening"}, 0))},
		{"NetworkListen, closed", feed(ev("NetworkListen", "Low", "0.0.0.0:4444", "nc stopped listening on TCP 0.0.0.0:4444", map[string]string{"comm": "nc", "pid": "99", "address": "0.0.0.0", "port": "4444", "state": "closed"}, 0))},
		{"PortScanDetected", feed(ev("PortScanDetected", "High", "", "", map[string]string{"remote_ip": "192.0.2.99", "ports": "25", "window_seconds": "10"}, 0))},
		{"UsbDeviceInserted", feed(ev("UsbDeviceInserted", "Medium", "", "USB device inserted: SanDisk Cruzer", map[string]string{"vendor": "SanDisk", "product": "Cruzer", "vendor_id": "0781", "product_id": "5567", "interfaces": "mass storage", "known": "false"}, 0))},
		{"UsbDeviceInserted, a keyboard", feed(ev("UsbDeviceInserted", "High", "", "", map[string]string{"vendor": "Generic", "product": "Flash Disk", "vendor_id": "1234", "product_id": "5678", "interfaces": "mass storage, HID keyboard", "known": "false"}, 0))},
		{"UsbDeviceRemoved", feed(ev("UsbDeviceRemoved", "Low", "", "", map[string]string{"vendor_id": "0781", "product_id": "5567"}, 0))},
		{"Incident, persistence after login", feed(ev("Incident", "Critical", "/home/alice/.ssh/authorized_keys", "alice logged in over SSH from 203.0.113.9 and then authorized_keys changed",
			map[string]string{"rule": "persistence_after_login", "members": "41,42", "window_seconds": "600", "ssh_user": "alice", "remote_ip": "203.0.113.9", "reason": "matched by time and the user's home: the writer is not known"}, 0))},
		{"Incident, BadUSB", feed(ev("Incident", "Critical", "0.0.0.0:4444", "",
			map[string]string{"rule": "badusb", "members": "7,9", "device": "Generic Flash Disk (1234:5678)", "program": "nc", "reason": "it started 3 seconds after the keyboard appeared"}, 0))},
		{"Incident, watching while away", feed(ev("Incident", "Critical", "/dev/video0", "",
			map[string]string{"rule": "watching_while_away", "members": "12", "device": "camera", "program": "ffmpeg", "reason": "the screen was locked"}, 0))},
		{"Incident, door opened", feed(ev("Incident", "High", "/etc/ssh/sshd_config", "",
			map[string]string{"rule": "door_opened", "members": "20,23", "settings": "PasswordAuthentication no → yes", "program": "sshd"}, 0))},
		{"Incident, backdoor listener", feed(ev("Incident", "High", "0.0.0.0:4444", "",
			map[string]string{"rule": "backdoor_listener", "members": "30", "program": "nc", "address": "0.0.0.0:4444", "reason": "its program is under /tmp", "comm": "nc", "pid": "31337", "exe": "/tmp/nc"}, 0))},
		{"CustomMessage", feed(ev("CustomMessage", "Medium", "", "Test message from the administrator", nil, 0))},
		{"EventsDropped", feed(ev("EventsDropped", "High", "", "42 events lost: the kernel's queue overflowed", map[string]string{"dropped": "42", "first_seq": "100", "last_seq": "141", "reason": "the kernel's queue overflowed"}, 0))},
		{"MonitorStatus, degraded", feed(ev("MonitorStatus", "Medium", "", "", map[string]string{"monitor": "camera", "state": "degraded", "reason": "fanotify needs CAP_SYS_ADMIN: openers are not named"}, 0))},
		{"MonitorStatus, failed", feed(ev("MonitorStatus", "High", "", "", map[string]string{"monitor": "filesystem", "state": "failed", "reason": "inotify: too many open files"}, 0))},
		{"an event from yesterday", feed(ev("FileDelete", "Medium", "/etc/nixos/old.nix", "", nixos("REMOVE"), -24*time.Hour))},
	}
	var b strings.Builder
	for _, c := range cases {
		n := st.Incident(c.inc)
		fmt.Fprintf(&b, "== %s\nsummary: %s\nbody:\n  %s\nicon: %s  material: %s  urgency: %d  resident: %v\n\n",
			c.name, n.Summary, strings.ReplaceAll(n.Body, "\n", "\n  "), n.Icon, n.Material, n.Urgency, n.Resident)
	}
	golden(t, "testdata/events.golden", b.String())
	for _, typ := range secmondbus.Types() {
		if !strings.Contains(b.String(), "== "+typ) {
			t.Errorf("the golden table has no case for %s", typ)
		}
	}
}

// A file hidden under a deep directory keeps its name, the watch's
// description and the time in the body.
func TestLongPathKeepsTheNameTheDescriptionAndTheTime(t *testing.T) {
	st := present.Style{Location: time.UTC, Now: func() time.Time { return t0 }}
	for _, depth := range []int{1, 10, 100, 1000} {
		p := "/home/alice/.config/autostart/" + strings.Repeat("d/", depth) + strings.Repeat("x", 200) + "-evil.desktop"
		n := st.Incident(feed(ev("FileCreate", "High", p, "", map[string]string{"watch": "/home/alice/.config/autostart", "description": "programs started at login", "op": "CREATE"}, 0)))
		for _, want := range []string{strings.Repeat("x", 200) + "-evil.desktop", "programs started at login", "14:30:45"} {
			if !strings.Contains(n.Body, want) {
				t.Errorf("depth %d: the body lost %q:\n%s", depth, want, n.Body)
			}
		}
		if len(n.Body) > 1000 {
			t.Errorf("depth %d: body of %d bytes", depth, len(n.Body))
		}
	}
	for _, tt := range []struct {
		p    string
		max  int
		want string
	}{
		{"/etc/passwd", 60, "/etc/passwd"},
		{"/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/name", 20, "/aaaaaa…ccccccc/name"},
		{"/a/" + strings.Repeat("n", 30), 10, "/a/" + strings.Repeat("n", 30)},
	} {
		if got := present.ShortPath(tt.p, tt.max); got != tt.want {
			t.Errorf("ShortPath(%q, %d) = %q, want %q", tt.p, tt.max, got, tt.want)
		}
	}
}

// Two real alerts never look the same: DankMaterialShell drops a popup
// identical to one shown in the last 5 s.
func TestTwoAlertsNeverLookTheSame(t *testing.T) {
	st := present.Style{Location: time.UTC, Now: func() time.Time { return t0 }}
	for _, typ := range secmondbus.Types() {
		a := ev(typ, "High", "/p", "d", map[string]string{"remote_ip": "192.0.2.7"}, 0)
		b := a
		b.Seq = 2
		na, nb := st.Incident(feed(a)), st.Incident(feed(b))
		if na.Summary == nb.Summary && na.Body == nb.Body {
			t.Errorf("%s: two events in the same second look the same: %q", typ, na.Body)
		}
	}
}

// The popups' advice is the journal catalog's, word for word: the
// catalog's "What to do:" of each type's entry.
func TestAdviceIsTheCatalogs(t *testing.T) {
	b, err := os.ReadFile("../../../data/catalog/secmon.catalog")
	if err != nil {
		t.Fatal(err)
	}
	advice := map[string]string{}
	for _, entry := range strings.Split(string(b), "\n-- ")[1:] {
		typ := regexp.MustCompile(`(?m)^Event type: (\w+)\.`).FindStringSubmatch(entry)
		what := regexp.MustCompile(`(?s)\nWhat to do: (.*?)\n\n`).FindStringSubmatch(entry)
		if typ == nil || what == nil {
			t.Errorf("catalog entry without an event type or a What to do:\n%s", entry)
			continue
		}
		advice[typ[1]] = strings.Join(strings.Fields(what[1]), " ")
	}
	for _, typ := range secmondbus.Types() {
		if got, want := present.Advice(typ), advice[typ]; got != want {
			t.Errorf("%s: the popup says\n  %q\nthe catalog\n  %q", typ, got, want)
		}
	}
}

// Every icon name is one the installed themes ship (Debian's Adwaita has
// mostly the -symbolic names), looked up as a server does: the theme's
// index, its directories, then the themes it inherits.
func TestIconsAreInstalled(t *testing.T) {
	const root = "/usr/share/icons"
	if _, err := os.Stat(root + "/Adwaita/index.theme"); err != nil {
		t.Skip("the Adwaita icon theme is not installed (Debian package adwaita-icon-theme)")
	}
	for _, name := range present.IconNames() {
		if theme := findIcon(t, root, "Adwaita", name, map[string]bool{}); theme == "" {
			t.Errorf("icon %q is in no installed theme (Adwaita, hicolor)", name)
		}
	}
}

func findIcon(t *testing.T, root, theme, name string, seen map[string]bool) string {
	if seen[theme] {
		return ""
	}
	seen[theme] = true
	idx, err := os.ReadFile(filepath.Join(root, theme, "index.theme"))
	if err != nil {
		return ""
	}
	var dirs, inherits []string
	for _, l := range strings.Split(string(idx), "\n") {
		if v, ok := strings.CutPrefix(l, "Directories="); ok {
			dirs = strings.Split(strings.TrimSuffix(v, ","), ",")
		}
		if v, ok := strings.CutPrefix(l, "Inherits="); ok {
			inherits = strings.Split(v, ",")
		}
	}
	for _, d := range dirs {
		for _, ext := range []string{".svg", ".png"} {
			if _, err := os.Stat(filepath.Join(root, theme, d, name+ext)); err == nil {
				return theme
			}
		}
	}
	for _, in := range append(inherits, "hicolor") {
		if th := findIcon(t, root, in, name, seen); th != "" {
			return th
		}
	}
	return ""
}

// Event text cannot inject control characters or change how the text
// reads (markup is escaped by package desktop at send time: notes are plain
// text), and overrides win.
func TestUntrustedTextAndOverrides(t *testing.T) {
	st := present.Style{Location: time.UTC, Now: func() time.Time { return t0 },
		Urgency: map[string]present.Urgency{"FileCreate": present.UrgencyCritical}, Icon: map[string]string{"FileCreate": "folder-new"}}
	n := st.Incident(feed(ev("FileCreate", "Medium", "/tmp/<b>x</b>&\x1b[31m\nfake line\u202egpj.exe", "", map[string]string{"description": "<i>tmp</i>"}, 0)))
	if !strings.Contains(n.Body, "/tmp/<b>x</b>&") || !strings.Contains(n.Body, "<i>tmp</i>") {
		t.Errorf("the plain text was changed: %q", n.Body)
	}
	if strings.ContainsRune(n.Body, 0x1b) || strings.Contains(n.Body, "\nfake line") || !strings.Contains(n.Body, `\x1b[31m\nfake line\u202egpj.exe`) {
		t.Errorf("control or bidirectional characters not escaped: %q", n.Body)
	}
	if n.Urgency != present.UrgencyCritical || n.Icon != "folder-new" || n.Material != "" {
		t.Errorf("overrides ignored: urgency %d icon %q material %q", n.Urgency, n.Icon, n.Material)
	}
	long := st.Incident(feed(ev("CustomMessage", "Medium", "/x", strings.Repeat("é", 2000), nil, 0)))
	if len(long.Body) > 1000 || !strings.Contains(long.Body, "…") || !strings.Contains(long.Body, "14:30:45") {
		t.Errorf("a long message: body of %d bytes, %q", len(long.Body), long.Body)
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "less than a second"}, {999 * time.Millisecond, "less than a second"}, {time.Second, "1 second"}, {44 * time.Second, "44 seconds"}, {90 * time.Second, "2 minutes"},
		{59 * time.Minute, "59 minutes"}, {time.Hour, "1 hour"}, {65 * time.Minute, "1 hour 5 minutes"}, {121 * time.Minute, "2 hours 1 minute"},
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
	if n.Summary != "Bluetooth paired" || n.Icon != "dialog-warning-symbolic" || n.Urgency != present.UrgencyCritical {
		t.Errorf("got %q %s %d", n.Summary, n.Icon, n.Urgency)
	}
}
