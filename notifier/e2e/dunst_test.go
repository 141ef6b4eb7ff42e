package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
)

// A real notification server: dunst on a private X server (Xvfb), on the
// test's session bus. It renders markup and looks icons up in the
// installed themes; dunstctl history says what it received. Each urgency
// prefixes its formatted message, so the urgency it took is readable too.
const dunstrc = `[global]
enable_recursive_icon_lookup = true
icon_theme = "Adwaita"
history_length = 200
markup = full

[urgency_low]
format = "low|%%s\n%%b"

[urgency_normal]
format = "normal|%%s\n%%b"

[urgency_critical]
format = "critical|%%s\n%%b"
timeout = 0
`

// dunstNote is one notification in dunstctl history.
type dunstNote struct {
	Summary, Body, Message, IconPath string
	ID                               int
}

// startDunst runs Xvfb and dunst for w, and returns once dunst owns
// org.freedesktop.Notifications.
func startDunst(t *testing.T, w *world) {
	t.Helper()
	for _, p := range []string{"Xvfb", "dunst", "dunstctl"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (Debian packages xvfb, dunst)", p)
		}
	}
	// -displayfd: the X server picks a free display and writes its number.
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	x := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "1280x800x24")
	x.ExtraFiles = []*os.File{wr}
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	t.Cleanup(func() { x.Process.Signal(syscall.SIGTERM); x.Wait() })
	num := make(chan string, 1)
	go func() { l, _ := bufio.NewReader(r).ReadString('\n'); num <- strings.TrimSpace(l); r.Close() }()
	var display string
	select {
	case n := <-num:
		if n == "" {
			t.Fatal("Xvfb gave no display number")
		}
		display = ":" + n
	case <-time.After(wait):
		t.Fatal("Xvfb did not start")
	}
	rc := filepath.Join(w.dir, "dunstrc")
	if err := os.WriteFile(rc, []byte(strings.ReplaceAll(dunstrc, "%%", "%")), 0o644); err != nil {
		t.Fatal(err)
	}
	d := start(t, "dunst", []string{"dunst", "-config", rc}, []string{"DISPLAY=" + display, "DBUS_SESSION_BUS_ADDRESS=" + w.session.Address()})
	conn := w.session.Conn(t)
	testutil.WaitFor(t, wait, "dunst owns "+notifName, func() bool {
		select {
		case <-d.exited:
			t.Fatalf("dunst exited:\n%s", d.out.String())
		default:
		}
		var has bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, notifName).Store(&has)
		return has
	})
}

// dunstHistory closes what dunst shows (so it enters the history) and
// returns the history.
func dunstHistory(t *testing.T, w *world) []dunstNote {
	t.Helper()
	env := append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+w.session.Address())
	cl := exec.Command("dunstctl", "close-all")
	cl.Env = env
	if out, err := cl.CombinedOutput(); err != nil {
		t.Fatalf("dunstctl close-all: %v\n%s", err, out)
	}
	h := exec.Command("dunstctl", "history")
	h.Env = env
	out, err := h.Output()
	if err != nil {
		t.Fatalf("dunstctl history: %v", err)
	}
	var raw struct {
		Data [][]map[string]struct {
			Data json.RawMessage `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("dunstctl history: %v\n%s", err, out)
	}
	var notes []dunstNote
	for _, group := range raw.Data {
		for _, m := range group {
			var n dunstNote
			json.Unmarshal(m["summary"].Data, &n.Summary)
			json.Unmarshal(m["body"].Data, &n.Body)
			json.Unmarshal(m["message"].Data, &n.Message)
			json.Unmarshal(m["icon_path"].Data, &n.IconPath)
			json.Unmarshal(m["id"].Data, &n.ID)
			notes = append(notes, n)
		}
	}
	return notes
}

// waitDunst waits until dunst received a notification that match
// accepts, and returns it.
func waitDunst(t *testing.T, w *world, what string, match func(dunstNote) bool) dunstNote {
	t.Helper()
	var got dunstNote
	var last []dunstNote
	ok := testutil.Until(wait, func() bool {
		last = dunstHistory(t, w)
		for _, n := range last {
			if match(n) {
				got = n
				return true
			}
		}
		return false
	})
	if !ok {
		var b strings.Builder
		for _, n := range last {
			fmt.Fprintf(&b, "\n  %q / %q", n.Summary, n.Body)
		}
		t.Fatalf("dunst never received %s; it has:%s", what, b.String())
	}
	t.Logf("dunst received %s:\n  %s\n  %s\n  icon %s", what, got.Summary, strings.ReplaceAll(got.Body, "\n", "\n  "), got.IconPath)
	return got
}

// text is the body as a person reads it: dunst renders markup, so the
// notifier sent it escaped, behind an empty <b></b>.
func (n dunstNote) text(t *testing.T) string {
	t.Helper()
	if !strings.HasPrefix(n.Body, "<b></b>") {
		t.Errorf("dunst renders markup, but the body was not sent as markup: %q", n.Body)
	}
	return html.UnescapeString(strings.TrimPrefix(n.Body, "<b></b>"))
}

// check asserts the urgency dunst took and that it found the icon.
func (n dunstNote) check(t *testing.T, urgency, icon string) {
	t.Helper()
	if !strings.HasPrefix(n.Message, urgency+"|") {
		t.Errorf("%q: dunst took it as %q, want urgency %s", n.Summary, strings.SplitN(n.Message, "|", 2)[0], urgency)
	}
	if !strings.Contains(filepath.Base(n.IconPath), icon) {
		t.Errorf("%q: dunst found icon %q, want %s", n.Summary, n.IconPath, icon)
	} else if _, err := os.Stat(n.IconPath); err != nil {
		t.Errorf("%q: icon %v", n.Summary, err)
	}
}

var stamp = regexp.MustCompile(`\d\d:\d\d:\d\d, event \d+`)

// The real daemon and notifier with a real notification server: what dunst
// received for the cases a person must understand at a glance.
func TestWhatARealServerShows(t *testing.T) {
	w := newBareWorld(t, "")
	autostart := filepath.Join(w.dir, "autostart")
	stormDir := filepath.Join(w.dir, "storm")
	deepDir := filepath.Join(w.tree, strings.Repeat("a-rather-long-directory-name/", 30))
	for _, d := range []string{autostart, stormDir, deepDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	app := filepath.Join(autostart, "app.desktop")
	os.WriteFile(app, []byte("[Desktop Entry]\nExec=app\n"), 0o644)
	conf, _ := os.ReadFile(w.daemonConf)
	conf = append(conf, fmt.Sprintf(`
[[watches]]
path = %q
description = "programs started at login"
recursive = true
severity = "High"

[[watches]]
path = %q
description = "storm tree"
recursive = true
`, autostart, stormDir)...)
	os.WriteFile(w.daemonConf, conf, 0o644)
	startDunst(t, w)
	w.startDaemon()
	n := w.startNotifier("")
	following(n)

	// A key file appears: who can log in, what to do.
	keys := filepath.Join(w.tree, ".ssh", "authorized_keys")
	os.MkdirAll(filepath.Dir(keys), 0o700)
	os.WriteFile(keys, []byte("ssh-ed25519 AAAA mallory@evil\n"), 0o600)
	// Created empty then written, or seen written at once: the daemon
	// names the key once it can read it ("New SSH key can log in as").
	got := waitDunst(t, w, "the authorized_keys popup", func(n dunstNote) bool {
		return strings.HasPrefix(n.Summary, "SSH login keys ") || strings.HasPrefix(n.Summary, "New SSH key can log in as ")
	})
	body := got.text(t)
	for _, want := range []string{keys, "can log in as", "What to do: Read the file now", "event "} {
		if !strings.Contains(body, want) {
			t.Errorf("authorized_keys popup %q lacks %q", body, want)
		}
	}
	got.check(t, "critical", "dialog-warning-symbolic")

	// A write to a file of a watch marked High.
	f, _ := os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("Exec=/tmp/evil\n")
	f.Close()
	got = waitDunst(t, w, "the sensitive write", func(n dunstNote) bool { return n.Summary == "File changed in programs started at login" })
	if body := got.text(t); !strings.Contains(body, app+" was changed (programs started at login)") || !stamp.MatchString(body) {
		t.Errorf("sensitive write: %q", body)
	}
	got.check(t, "critical", "dialog-warning-symbolic")

	// A file hidden under a deep directory keeps its name, the watch's
	// description and the time.
	hidden := filepath.Join(deepDir, "evil.desktop")
	os.WriteFile(hidden, nil, 0o644)
	got = waitDunst(t, w, "the long path", func(n dunstNote) bool { return strings.Contains(n.Body, "evil.desktop") })
	body = got.text(t)
	if !strings.Contains(body, "…") || !strings.Contains(body, "/evil.desktop was created (test tree)") || !stamp.MatchString(body) || strings.Contains(body, deepDir) {
		t.Errorf("long path: %q", body)
	}
	got.check(t, "normal", "security-medium-symbolic")

	// A storm is one notification with its count.
	const count = 60
	for i := range count {
		os.WriteFile(filepath.Join(stormDir, fmt.Sprintf("s%03d", i)), nil, 0o644)
	}
	got = waitDunst(t, w, "the storm's count", func(n dunstNote) bool { return n.Summary == strconv.Itoa(count)+" changes in storm tree" })
	if body := got.text(t); !strings.Contains(body, strconv.Itoa(count)+" created under "+stormDir) || !strings.Contains(body, "secmon-client --replay-after") {
		t.Errorf("storm: %q", body)
	}
	got.check(t, "normal", "security-medium-symbolic")

	// The camera: who, by name.
	pid, release := holdCamera(t, w)
	got = waitDunst(t, w, "the camera in use", func(n dunstNote) bool { return n.Summary == "Camera in use by cam-opener" })
	if body := got.text(t); !strings.Contains(body, fmt.Sprintf("cam-opener (pid %s) opened %s", pid, w.camera)) || !strings.Contains(body, "What to do:") {
		t.Errorf("camera: %q", body)
	}
	got.check(t, "critical", "camera-web-symbolic")
	release()
	got = waitDunst(t, w, "the camera released", func(n dunstNote) bool { return n.Summary == "Camera no longer in use" })
	got.check(t, "normal", "camera-web-symbolic")
}
