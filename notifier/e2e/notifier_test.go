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

	"github.com/pantheros/secmon/notifier/internal/notifier"
)

// The notification a camera use gives names the program, carries the
// urgency, icon, app name, actions and desktop-entry hint, and its release
// replaces it in place (the same id).
func TestCameraUseIsOneNotificationReplacedOnRelease(t *testing.T) {
	w := newWorld(t)
	w.startDaemon()
	n := w.startNotifier("")
	following(n)

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
	pid := strconv.Itoa(cmd.Process.Pid)

	inUse := w.mock.waitCall("camera in use", func(c notifyCall) bool { return c.Summary == "Camera in use" })
	wantBody := "cam-opener (pid " + pid + ") opened " + w.camera
	if !strings.Contains(inUse.Body, wantBody) {
		t.Errorf("body %q does not name the program: want %q", inUse.Body, wantBody)
	}
	if u, ok := inUse.urgency(); !ok || u != 2 {
		t.Errorf("urgency %v (present %v), want 2 (critical) for a High event", u, ok)
	}
	if inUse.Icon != "camera-web" || inUse.AppName != notifier.AppName || inUse.ReplacesID != 0 {
		t.Errorf("icon %q, app name %q, replaces_id %d; want camera-web, %q, 0", inUse.Icon, inUse.AppName, inUse.ReplacesID, notifier.AppName)
	}
	if !slices.Equal(inUse.Actions, []string{"default", "Details", "mute", "Mute for 1 hour"}) {
		t.Errorf("actions %q: the first must be the default (Details), then Mute", inUse.Actions)
	}
	entry := inUse.hint("desktop-entry")
	if entry != notifier.DesktopEntry {
		t.Errorf("desktop-entry hint %q, want %q", entry, notifier.DesktopEntry)
	}
	if _, err := os.Stat(filepath.Join("../../data", entry+".desktop")); err != nil {
		t.Errorf("the desktop-entry hint names no file in data/: %v", err)
	}

	stdin.Close()
	cmd.Wait()
	defer func() { t.Logf("calls:%s", summaries(w.mock.calls())) }()
	released := w.mock.waitCall("camera released", func(c notifyCall) bool { return c.Summary == "Camera released" })
	if released.ReplacesID != inUse.ID {
		t.Fatalf("the release has replaces_id %d, want %d (the in-use notification):%s", released.ReplacesID, inUse.ID, summaries(w.mock.calls()))
	}
	if !strings.Contains(released.Body, "cam-opener (pid "+pid+")") || !strings.Contains(released.Body, "released after") {
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
	w.mock.waitCall("the storm's full count", func(c notifyCall) bool { return strings.Contains(c.Body, strconv.Itoa(count)+" changes") })
	// Nothing of the storm can still be waiting once an event made after
	// it is shown: the notifier handles events in order.
	sentinel := filepath.Join(w.tree, ".ssh", "authorized_keys")
	os.MkdirAll(filepath.Dir(sentinel), 0o700)
	os.WriteFile(sentinel, nil, 0o600)
	w.mock.waitCall("the sentinel", func(c notifyCall) bool { return strings.Contains(c.Body, sentinel) })

	var storm []notifyCall
	for _, c := range w.mock.calls() {
		if strings.Contains(c.Body, filepath.Join(w.tree, "f")) || strings.Contains(c.Summary, "file changes under "+w.tree) {
			storm = append(storm, c)
		}
	}
	if len(storm) == 0 || len(storm) > 3 {
		t.Fatalf("%d Notify calls for the storm, want 1 to 3:%s", len(storm), summaries(storm))
	}
	t.Logf("storm calls:%s", summaries(storm))
	last := storm[len(storm)-1]
	if !strings.Contains(last.Summary, strconv.Itoa(count)+" file changes") || !strings.Contains(last.Body, strconv.Itoa(count)+" created") {
		t.Errorf("last storm notification %q / %q does not carry the count %d", last.Summary, last.Body, count)
	}
	for _, c := range storm[1:] {
		if c.ReplacesID != storm[0].ID {
			t.Errorf("storm update %q replaces %d, want %d", c.Summary, c.ReplacesID, storm[0].ID)
		}
	}
}
