package e2e_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/notifier/internal/notifier"
	"github.com/pantheros/secmon/notifier/internal/present"
)

// The notification a camera use gives names the program, carries the
// urgency, icon, app name, actions and desktop-entry hint, and its release
// replaces it in place (the same id).
func TestCameraUseIsOneNotificationReplacedOnRelease(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	n := w.startNotifier("")
	following(n)

	pid, release := holdCamera(t, w)

	inUse := w.mock.waitCall("camera in use", func(c notifyCall) bool { return strings.HasPrefix(c.Summary, "Camera in use by ") })
	wantBody := "cam-opener (pid " + pid + ") opened " + w.camera
	if !strings.Contains(inUse.Body, wantBody) {
		t.Errorf("body %q does not name the program: want %q", inUse.Body, wantBody)
	}
	if u, ok := inUse.urgency(); !ok || u != 2 {
		t.Errorf("urgency %v (present %v), want 2 (critical) for a High event", u, ok)
	}
	if inUse.Icon != "camera-web-symbolic" || inUse.AppName != present.AppName || inUse.ReplacesID != 0 {
		t.Errorf("icon %q, app name %q, replaces_id %d; want camera-web-symbolic, %q, 0", inUse.Icon, inUse.AppName, inUse.ReplacesID, present.AppName)
	}
	if !slices.Equal(inUse.Actions, []string{"default", "Details"}) {
		t.Errorf("actions %q: the default (Details) only; a mute must never hide a camera in use", inUse.Actions)
	}
	entry := inUse.hint("desktop-entry")
	if entry != notifier.DesktopEntry {
		t.Errorf("desktop-entry hint %q, want %q", entry, notifier.DesktopEntry)
	}
	if _, err := os.Stat(filepath.Join("../../data", entry+".desktop")); err != nil {
		t.Errorf("the desktop-entry hint names no file in data/: %v", err)
	}

	release()
	defer func() { t.Logf("calls:%s", summaries(w.mock.calls())) }()
	released := w.mock.waitCall("camera released", func(c notifyCall) bool { return c.Summary == "Camera no longer in use" })
	if released.ReplacesID != inUse.ID {
		t.Fatalf("the release has replaces_id %d, want %d (the in-use notification):%s", released.ReplacesID, inUse.ID, summaries(w.mock.calls()))
	}
	if !strings.Contains(released.Body, "cam-opener (pid "+pid+")") || !strings.Contains(released.Body, " for ") {
		t.Errorf("release body %q", released.Body)
	}
	if u, _ := released.urgency(); u != 1 {
		t.Errorf("release urgency %d, want 1 (normal) for a Medium event", u)
	}
	for _, c := range w.mock.calls() {
		if c.ReplacesID == 0 && c.ID != inUse.ID && strings.HasPrefix(c.Summary, "Camera") {
			t.Errorf("a second camera notification: %+v", c)
		}
	}
}

// A burst of 200 file changes is one notification and at most two updates,
// and the count reaches the body.
func TestStormIsOneNotificationWithTheCount(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	n := w.startNotifier("")
	following(n)
	const count = 200
	for i := range count {
		if err := os.WriteFile(filepath.Join(w.tree, fmt.Sprintf("f%03d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.mock.waitCall("the storm's full count", func(c notifyCall) bool { return strings.HasPrefix(c.Summary, strconv.Itoa(count)+" changes") })
	// Nothing of the storm can still be waiting once an event made after
	// it is shown: the notifier handles events in order.
	sentinel := filepath.Join(w.tree, ".ssh", "authorized_keys")
	os.MkdirAll(filepath.Dir(sentinel), 0o700)
	os.WriteFile(sentinel, nil, 0o600)
	w.mock.waitCall("the sentinel", func(c notifyCall) bool { return strings.Contains(c.Body, sentinel) })

	var storm []notifyCall
	for _, c := range w.mock.calls() {
		if strings.Contains(c.Body, filepath.Join(w.tree, "f")) || strings.Contains(c.Summary, "changes in test tree") {
			storm = append(storm, c)
		}
	}
	if len(storm) == 0 || len(storm) > 3 {
		t.Fatalf("%d Notify calls for the storm, want 1 to 3:%s", len(storm), summaries(storm))
	}
	t.Logf("storm calls:%s", summaries(storm))
	last := storm[len(storm)-1]
	if !strings.HasPrefix(last.Summary, strconv.Itoa(count)+" changes") || !strings.Contains(last.Body, strconv.Itoa(count)+" created") {
		t.Errorf("last storm notification %q / %q does not carry the count %d", last.Summary, last.Body, count)
	}
	for _, c := range storm[1:] {
		if c.ReplacesID != storm[0].ID {
			t.Errorf("storm update %q replaces %d, want %d", c.Summary, c.ReplacesID, storm[0].ID)
		}
	}
}

// "Mute for 1 hour", invoked through the server's ActionInvoked signal,
// stops that type from that source; other notifications still come.
func TestMuteStopsThatType(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	n := w.startNotifier("")
	following(n)
	a := filepath.Join(w.tree, "first")
	os.WriteFile(a, nil, 0o644)
	shown := w.mock.waitCall("the first file", func(c notifyCall) bool { return strings.Contains(c.Body, a) })
	if !slices.Contains(shown.Actions, "mute") {
		t.Fatalf("no mute action in %q", shown.Actions)
	}
	w.mock.invoke(shown.ID, "mute")
	w.mock.waitCall("the muted notice", func(c notifyCall) bool {
		return strings.HasPrefix(c.Summary, "Muted: ") && strings.Contains(c.Body, "new files under "+w.tree)
	})

	b := filepath.Join(w.tree, "second")
	os.WriteFile(b, nil, 0o644)
	// An event after it, not muted: once it is shown, the muted one has
	// been handled.
	os.Remove(a)
	w.mock.waitCall("the unmuted delete", func(c notifyCall) bool { return strings.Contains(c.Body, a+" was deleted") })
	for _, c := range w.mock.calls() {
		if strings.Contains(c.Body, b) {
			t.Fatalf("a muted FileCreate was shown: %q / %q", c.Summary, c.Body)
		}
	}

	// Unmute, on the Muted notice, ends it at once and says what it held.
	muted := w.mock.waitCall("the muted notice", func(c notifyCall) bool { return strings.HasPrefix(c.Summary, "Muted: ") })
	if !slices.Contains(muted.Actions, "unmute") {
		t.Fatalf("no unmute action on the Muted notice: %q", muted.Actions)
	}
	w.mock.invoke(muted.ID, "unmute")
	w.mock.waitCall("the held count", func(c notifyCall) bool {
		return strings.HasPrefix(c.Summary, "1 notification not shown while muted") && strings.Contains(c.Body, "1 new file")
	})
	w.mock.waitCall("notifications back", func(c notifyCall) bool { return c.Summary == "Notifications are back" && c.ReplacesID == muted.ID })
	d := filepath.Join(w.tree, "third")
	os.WriteFile(d, nil, 0o644)
	third := w.mock.waitCall("a new file, after unmuting", func(c notifyCall) bool { return strings.Contains(c.Body, d) })

	// secmon-notifier --unmute ends every mute of the running notifier.
	w.mock.invoke(third.ID, "mute")
	w.mock.waitCall("muted again", func(c notifyCall) bool { return strings.HasPrefix(c.Summary, "Muted: ") && c.ReplacesID == third.ID })
	cli := exec.Command(filepath.Join(bin, "secmon-notifier"), "--unmute")
	cli.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+w.session.Address())
	out, err := cli.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ended 1 mute") {
		t.Fatalf("secmon-notifier --unmute: %v\n%s", err, out)
	}
	w.mock.waitCall("notifications back again", func(c notifyCall) bool { return c.Summary == "Notifications are back" && c.ReplacesID == third.ID })
}

// The Details action runs the configured argv with the event's seq, and a
// malformed ActionInvoked from anyone on the session bus crashes nothing.
func TestDetailsRunsTheCommand(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	marker := filepath.Join(w.dir, "details")
	n := w.startNotifier(fmt.Sprintf("details_command = [\"touch\", %q]\n", marker+"-{seq}"))
	following(n)
	f := filepath.Join(w.tree, "look")
	os.WriteFile(f, nil, 0o644)
	shown := w.mock.waitCall("the file", func(c notifyCall) bool { return strings.Contains(c.Body, f) })
	var seq uint64
	for _, e := range eventsAfter(t, busConn(t, w.sys), 0) {
		if e.Path == f {
			seq = e.Seq
		}
	}
	if seq == 0 {
		t.Fatal("the daemon does not have the event")
	}
	w.mock.emit("ActionInvoked", "ss", "not a number", "default") // wrong shape: dropped
	w.mock.invoke(shown.ID, "default")
	testutil.WaitFor(t, wait, "Details ran touch "+marker+"-"+strconv.FormatUint(seq, 10), func() bool {
		_, err := os.Stat(marker + "-" + strconv.FormatUint(seq, 10))
		return err == nil
	})
	select {
	case <-n.exited:
		t.Fatal("the notifier exited")
	default:
	}
}

// The daemon crashes and comes back: the notifier follows the new owner.
// Then the notifier is cut off (stopped, the bus restarted under it) while
// the daemon restarts and sees a change: after it reconnects, it fetches
// and shows that change, once.
func TestDaemonRestartLosesNothing(t *testing.T) {
	w := newWorld(t)
	d := w.startDaemon()
	n := w.startNotifier("")
	following(n)
	before := filepath.Join(w.tree, "before")
	os.WriteFile(before, nil, 0o644)
	w.mock.waitCall("before", func(c notifyCall) bool { return strings.Contains(c.Body, before) })

	d.kill()
	d = w.startDaemon()
	following(n)
	afterCrash := filepath.Join(w.tree, "after-crash")
	os.WriteFile(afterCrash, nil, 0o644)
	w.mock.waitCall("after the crash", func(c notifyCall) bool { return strings.Contains(c.Body, afterCrash) })

	// Cut the notifier off: stopped, it cannot read; the bus restart
	// drops its connection, so the signals of what follows never reach it.
	if err := n.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	d.stop()
	w.sys.Restart(t)
	w.startDaemon()
	missed := filepath.Join(w.tree, "while-cut-off")
	os.WriteFile(missed, nil, 0o644)
	conn := busConn(t, w.sys)
	testutil.WaitFor(t, wait, "the daemon has the change", func() bool {
		for _, e := range eventsAfter(t, conn, 0) {
			if e.Path == missed {
				return true
			}
		}
		return false
	})
	if err := n.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	w.mock.waitCall("the change made while cut off", func(c notifyCall) bool { return strings.Contains(c.Body, missed) })
	following(n)
	// Handed on twice, it would be counted twice: three files were
	// created, so no notification may count more; shown alone, once.
	alone := 0
	for _, c := range w.mock.calls() {
		if !strings.Contains(c.Body, missed) {
			continue
		}
		var k int
		if _, err := fmt.Sscanf(c.Summary, "%d changes", &k); err == nil {
			if k > 3 {
				t.Errorf("%d changes counted, but 3 files were created: %q", k, c.Body)
			}
		} else if c.ReplacesID == 0 {
			alone++
		}
	}
	if alone > 1 {
		t.Errorf("the missed change was shown %d times:%s", alone, summaries(w.mock.calls()))
	}
}

// Started before the daemon, the notifier waits; after
// daemon_absent_warning it says once that the daemon is not running, and
// replaces that when the daemon comes; what the daemon saw first is shown.
func TestStartsBeforeTheDaemonAndWarnsOnce(t *testing.T) {
	w := newWorld(t)
	n := w.startNotifier("daemon_absent_warning = \"1s\"\n")
	n.notify.waitFor("STATUS=waiting", n.exited)
	warning := w.mock.waitCall("the absence warning", func(c notifyCall) bool { return c.Summary == "Security monitor is not running" })
	if u, _ := warning.urgency(); u != 2 {
		t.Errorf("warning urgency %d, want 2", u)
	}
	w.startDaemon()
	back := w.mock.waitCall("back", func(c notifyCall) bool { return c.Summary == "Security monitor is running again" })
	if back.ReplacesID != warning.ID {
		t.Errorf("the all-clear replaces %d, want the warning %d", back.ReplacesID, warning.ID)
	}
	f := filepath.Join(w.tree, "first-after-start")
	os.WriteFile(f, nil, 0o644)
	w.mock.waitCall("the first change", func(c notifyCall) bool { return strings.Contains(c.Body, f) })
	warnings := 0
	for _, c := range w.mock.calls() {
		if c.Summary == "Security monitor is not running" {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d absence warnings, want 1", warnings)
	}
}

// The notification server goes away and another takes its place (a shell
// reload): what happened meanwhile is shown on the new one, and new
// notifications do not reuse the old server's ids.
func TestNotificationServerRestart(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	n := w.startNotifier("")
	following(n)
	one := filepath.Join(w.tree, "one")
	os.WriteFile(one, nil, 0o644)
	w.mock.waitCall("one", func(c notifyCall) bool { return strings.Contains(c.Body, one) })
	w.mock.stop()
	testutil.WaitFor(t, wait, "the server's name is gone", func() bool {
		var has bool
		busConn(t, w.session).BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, notifName).Store(&has)
		return !has
	})
	// Wait out the first incident's window, so that what follows is a new
	// notification, not an update.
	during := filepath.Join(w.tree, "during")
	os.WriteFile(during, nil, 0o644)
	conn := busConn(t, w.sys)
	testutil.WaitFor(t, wait, "the daemon has the change", func() bool {
		for _, e := range eventsAfter(t, conn, 0) {
			if e.Path == during {
				return true
			}
		}
		return false
	})
	w.mock = startMock(t, w.session)
	got := w.mock.waitCall("the change made without a server", func(c notifyCall) bool { return strings.Contains(c.Body, during) })
	if got.ReplacesID != 0 {
		t.Errorf("on the new server the notification replaces id %d of the old one", got.ReplacesID)
	}
}

// A storm beyond the daemon's signal budget comes partly as EventsCoalesced
// summaries; the notifier fetches the folded events back, so its count is
// the whole storm.
func TestFoldedStormIsCountedInFull(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	n := w.startNotifier("")
	following(n)
	const count = 700 // well past a burst of 200
	for i := range count {
		if err := os.WriteFile(filepath.Join(w.tree, fmt.Sprintf("g%03d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.mock.waitCall("the whole storm counted", func(c notifyCall) bool {
		return strings.HasPrefix(c.Summary, strconv.Itoa(count)+" changes")
	})
	if !strings.Contains(n.out.String(), "unfolded a storm") {
		t.Errorf("the daemon folded nothing (no EventsCoalesced), so this test proved less than it should")
	}
}

// A bad notifier.toml does not leave the desktop without notifications:
// the notifier runs on the defaults and says why, naming line and key;
// --check fails on it with the same message.
func TestBadConfigIsShownAndDefaultsApply(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	n := w.startNotifier("# notifier\nmin_severity = \"Severe\"\n")
	following(n)
	conf := filepath.Join(w.dir, "notifier.toml")
	want := conf + `:2:1: key min_severity: unknown severity "Severe"`
	w.mock.waitCall("the refusal", func(c notifyCall) bool {
		return strings.Contains(c.Summary, "configuration refused") && strings.Contains(c.Body, want)
	})
	f := filepath.Join(w.tree, "still-shown")
	os.WriteFile(f, nil, 0o644)
	w.mock.waitCall("an event, on the defaults", func(c notifyCall) bool { return strings.Contains(c.Body, f) })

	out, err := exec.Command(filepath.Join(bin, "secmon-notifier"), "--check", "--config", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("--check: %v\n%s", err, out)
	}
}

// A notifier restart loses nothing: what came while it was stopped is
// shown when it starts again — the High camera use on its own, the Medium
// file changes in one "While you were away" summary — and what it had
// shown before is not shown again.
func TestRestartShowsWhatCameMeanwhile(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	n := w.startNotifier("")
	following(n)
	before := filepath.Join(w.tree, "before")
	os.WriteFile(before, nil, 0o644)
	w.mock.waitCall("before", func(c notifyCall) bool { return strings.Contains(c.Body, before) })
	n.stop()

	// While it is stopped: a camera use, then two new files.
	_, release := holdCamera(t, w)
	release()
	var missed []string
	for _, name := range []string{"while-away-1", "while-away-2"} {
		missed = append(missed, filepath.Join(w.tree, name))
		os.WriteFile(missed[len(missed)-1], nil, 0o644)
	}
	conn := busConn(t, w.sys)
	testutil.WaitFor(t, wait, "the daemon has the changes", func() bool {
		n := 0
		for _, e := range eventsAfter(t, conn, 0) {
			if slices.Contains(missed, e.Path) {
				n++
			}
		}
		return n == len(missed)
	})
	shownBefore := len(w.mock.calls())

	n = w.startNotifier("")
	following(n)
	w.mock.waitCall("the camera use, on its own", func(c notifyCall) bool { return strings.HasPrefix(c.Summary, "Camera in use by ") })
	summary := w.mock.waitCall("the summary", func(c notifyCall) bool { return strings.HasPrefix(c.Summary, "While you were away:") })
	if !strings.Contains(summary.Body, "2 new files") {
		t.Errorf("summary %q / %q does not count the two new files", summary.Summary, summary.Body)
	}
	for _, c := range w.mock.calls()[shownBefore:] {
		if strings.Contains(c.Body, before) {
			t.Errorf("shown again after the restart: %q / %q", c.Summary, c.Body)
		}
	}
}

// holdCamera opens the world's stand-in camera from a copy of the test
// binary named cam-opener and holds it until release is called.
func holdCamera(t *testing.T, w *world) (pid string, release func()) {
	t.Helper()
	self, _ := os.Executable()
	opener := filepath.Join(w.dir, "cam-opener")
	b, _ := os.ReadFile(self)
	os.WriteFile(opener, b, 0o755)
	cmd := exec.Command(opener)
	cmd.Env = append(os.Environ(), openerEnv+"="+w.camera)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if l, _ := bufio.NewReader(out).ReadString('\n'); l != "open\n" {
		t.Fatalf("opener said %q", l)
	}
	return strconv.Itoa(cmd.Process.Pid), func() { stdin.Close(); cmd.Wait() }
}

// The camera notice follows the camera, not the notifier or the server: a
// notifier started while the camera is in use shows "Camera in use" with
// the program (the daemon's GetDevicesInUse), a notification server restart
// (a DankMaterialShell reload) shows it again, and the release names the
// program and replaces the notice. "Mute" is not offered on it.
func TestCameraNoticeSurvivesRestarts(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	pid, release := holdCamera(t, w)
	conn := busConn(t, w.sys)
	testutil.WaitFor(t, wait, "the daemon lists the camera in use", func() bool {
		var evs []secmondbus.Event
		obj := conn.Object(secmondbus.BusName, secmondbus.ObjectPath)
		if err := obj.Call(secmondbus.Interface+"."+secmondbus.MethodGetDevicesInUse, 0).Store(&evs); err != nil {
			t.Fatal(err)
		}
		return len(evs) == 1 && evs[0].Path == w.camera && evs[0].Details["pid"] == pid
	})

	n := w.startNotifier("")
	following(n)
	who := "cam-opener (pid " + pid + ") opened " + w.camera
	first := w.mock.waitCall("camera in use, at start", func(c notifyCall) bool {
		return strings.HasPrefix(c.Summary, "Camera in use by ") && strings.Contains(c.Body, who)
	})
	if slices.Contains(first.Actions, "mute") {
		t.Errorf("a camera in use offers Mute: %q", first.Actions)
	}

	w.mock.stop()
	w.mock = startMock(t, w.session)
	w.mock.waitCall("camera in use, on the new server", func(c notifyCall) bool {
		return strings.HasPrefix(c.Summary, "Camera in use by ") && strings.Contains(c.Body, who)
	})

	release()
	got := w.mock.waitCall("camera released", func(c notifyCall) bool { return c.Summary == "Camera no longer in use" })
	if !strings.Contains(got.Body, "cam-opener (pid "+pid+")") || got.ReplacesID == 0 {
		t.Errorf("release %q (replaces %d): want the program named, in place of the notice", got.Body, got.ReplacesID)
	}
	var evs []secmondbus.Event
	if err := conn.Object(secmondbus.BusName, secmondbus.ObjectPath).Call(secmondbus.Interface+"."+secmondbus.MethodGetDevicesInUse, 0).Store(&evs); err != nil || len(evs) != 0 {
		t.Errorf("after the release the daemon lists %v (%v), want nothing in use", evs, err)
	}
}
