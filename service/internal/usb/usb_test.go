package usb_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/usb"
)

// childEnv turns the test binary into a program that runs a Watcher on the
// state directory named in it and prints each event as a JSON line, then
// "READY" once Ready is closed. testbed.py runs it under umockdev.
const childEnv = "SECMON_USB_TEST_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(child(dir))
	}
	os.Exit(m.Run())
}

func child(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	w, err := usb.New(usb.Config{StateDir: dir}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	go func() {
		<-w.Ready()
		os.Stdout.WriteString("READY\n")
	}()
	err = w.Run(ctx, func(e event.Event) {
		b, _ := e.AppendJSONLine(nil)
		os.Stdout.Write(b)
	})
	if err != nil {
		os.Stdout.WriteString("RUNERR " + err.Error() + "\n")
		return 1
	}
	return 0
}

// needUmockdev skips when the umockdev testbed cannot run here.
func needUmockdev(t *testing.T) {
	t.Helper()
	if !haveCgo {
		t.Skip("built without cgo: no libudev to test")
	}
	if _, err := exec.LookPath("umockdev-wrapper"); err != nil {
		t.Skip("umockdev-wrapper is not installed (Debian: umockdev)")
	}
	out, err := exec.Command("/usr/bin/python3", "-c", `import gi; gi.require_version("UMockdev", "1.0"); from gi.repository import UMockdev`).CombinedOutput()
	if err != nil {
		t.Skipf("/usr/bin/python3 cannot load UMockdev (Debian: python3-gi gir1.2-umockdev-1.0): %v: %s", err, out)
	}
}

// bed is testdata/testbed.py running the test binary as a watcher.
type bed struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan event.Event
	ready  chan struct{}
	failed chan string // a watcher's Run returned an error
	stderr *testutil.LockedBuffer
	done   chan error
}

func fixture(name string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", name))
	return p
}

// startBed starts the testbed with the devices in present already plugged,
// and a watcher on stateDir; it returns once the watcher is ready.
func startBed(t *testing.T, stateDir string, present ...string) *bed {
	t.Helper()
	needUmockdev(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"/usr/bin/python3", fixture("testbed.py")}
	for _, p := range present {
		args = append(args, "--present", fixture(p))
	}
	args = append(args, "--", self)
	cmd := exec.Command("umockdev-wrapper", args...)
	cmd.Env = append(os.Environ(), childEnv+"="+stateDir, "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	b := &bed{t: t, cmd: cmd, events: make(chan event.Event, 64), ready: make(chan struct{}, 4), failed: make(chan string, 4), stderr: &testutil.LockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = b.stderr
	if b.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "READY" {
				b.ready <- struct{}{}
				continue
			}
			if msg, ok := strings.CutPrefix(sc.Text(), "RUNERR "); ok {
				b.failed <- msg
				continue
			}
			var e event.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				b.stderr.Write([]byte("bad line from the watcher: " + sc.Text() + "\n"))
				continue
			}
			b.events <- e
		}
		b.done <- cmd.Wait()
		close(b.events)
	}()
	t.Cleanup(func() {
		b.stdin.Close() // testbed.py stops the watcher and exits
		select {
		case err := <-b.done:
			if err != nil && !t.Failed() {
				t.Errorf("testbed exited with %v; stderr:\n%s", err, b.stderr.String())
			}
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-b.done
			t.Errorf("testbed did not exit within 15 s of its input closing")
		}
		if t.Failed() {
			t.Logf("testbed stderr:\n%s", b.stderr.String())
		}
	})
	return b
}

// do sends one testbed command, such as "add keyboard.umockdev".
func (b *bed) do(cmd string, fixtureName string) {
	b.t.Helper()
	if _, err := io.WriteString(b.stdin, cmd+" "+fixture(fixtureName)+"\n"); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bed) restart() {
	b.t.Helper()
	if _, err := io.WriteString(b.stdin, "stop\nstart\n"); err != nil {
		b.t.Fatal(err)
	}
}

// waitReady returns the events emitted before the watcher was ready (the
// inventory), less the running status the monitor sends last, just before
// it is ready.
func (b *bed) waitReady() []event.Event {
	b.t.Helper()
	var evs []event.Event
	deadline := time.After(15 * time.Second)
	ready, running := false, false
	for {
		select {
		case <-b.ready:
			ready = true
		case msg := <-b.failed:
			b.t.Fatalf("the watcher failed: %s", msg)
		case e, ok := <-b.events:
			if !ok {
				b.t.Fatalf("the watcher exited before it was ready; stderr:\n%s", b.stderr.String())
			}
			if _, st, _, ok := event.StatusOf(e); ok && st == event.Running {
				if !strings.Contains(e.Metadata["reason"], usb.StoreName) {
					b.t.Errorf("running status %+v does not name the store", e)
				}
				running = true
			} else if running {
				b.t.Fatalf("%+v came after the running status", e)
			} else {
				evs = append(evs, e)
			}
		case <-deadline:
			b.t.Fatalf("the watcher was not ready within 15 s (ready %v, running status %v); stderr:\n%s", ready, running, b.stderr.String())
		}
		if ready && running {
			return evs
		}
	}
}

func (b *bed) next() event.Event {
	b.t.Helper()
	select {
	case e, ok := <-b.events:
		if !ok {
			b.t.Fatalf("the testbed exited; stderr:\n%s", b.stderr.String())
		}
		return e
	case msg := <-b.failed:
		b.t.Fatalf("the watcher failed: %s", msg)
	case <-time.After(15 * time.Second):
		b.t.Fatalf("no event within 15 s; stderr:\n%s", b.stderr.String())
	}
	return event.Event{}
}

// want checks an event's type, severity, path and some metadata.
func want(t *testing.T, e event.Event, typ event.Type, sev event.Severity, path string, md map[string]string) {
	t.Helper()
	bad := e.Type != typ || e.Severity != sev || e.Path != path
	for k, v := range md {
		if e.Metadata[k] != v {
			bad = true
		}
	}
	if bad {
		j, _ := json.Marshal(e)
		t.Fatalf("got %s\nwant %s %s at %s with %v", j, sev, typ, path, md)
	}
}

const (
	kbdNode   = "/dev/bus/usb/001/005"
	stickNode = "/dev/bus/usb/002/003"
)

var kbdMeta = map[string]string{
	"vendor_id": "046d", "product_id": "c31c", "vendor": "Logitech, Inc.", "product": "Keyboard K120",
	"serial": "KB0042", "bus_path": "1-2", "interfaces": "HID keyboard, HID",
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// A keyboard never seen before is High; its removal names it; plugged
// again it is known and Low. Its interfaces produce no events of their own.
func TestKeyboardHotplugRemoveReplug(t *testing.T) {
	b := startBed(t, t.TempDir())
	if inv := b.waitReady(); len(inv) != 0 {
		t.Fatalf("empty testbed, yet inventory %+v", inv)
	}
	b.do("add", "keyboard.umockdev")
	e := b.next()
	want(t, e, event.UsbDeviceInserted, event.High, kbdNode,
		with(kbdMeta, "authorized", "true", "known", "false", "found_by", "hotplug"))
	if d := "USB device inserted: Logitech, Inc. Keyboard K120 (046d:c31c), HID keyboard, HID; never seen before"; e.Description != d {
		t.Errorf("description %q, want %q", e.Description, d)
	}
	// Its remove uevent has no names: the watcher remembers them.
	b.do("remove-bare", "keyboard.umockdev")
	e = b.next()
	want(t, e, event.UsbDeviceRemoved, event.Low, kbdNode, kbdMeta)
	if d := "USB device removed: Logitech, Inc. Keyboard K120 (046d:c31c)"; e.Description != d {
		t.Errorf("description %q, want %q", e.Description, d)
	}
	b.do("add", "keyboard.umockdev")
	want(t, b.next(), event.UsbDeviceInserted, event.Low, kbdNode,
		with(kbdMeta, "known", "true", "found_by", "hotplug"))
}

// A device present at start is inventory, Low; an add uevent for it again
// (udevadm trigger, or one queued while the list was read) is not a second
// report.
func TestInventoryAtStartIsReportedOnce(t *testing.T) {
	b := startBed(t, t.TempDir(), "stick.umockdev")
	inv := b.waitReady()
	if len(inv) != 1 {
		t.Fatalf("inventory %+v, want the stick only", inv)
	}
	want(t, inv[0], event.UsbDeviceInserted, event.Low, stickNode, map[string]string{
		"vendor_id": "0781", "product_id": "5567", "serial": "4C530001230516114083", "interfaces": "mass storage",
		"found_by": "inventory", "known": "false", "bus_path": "2-1",
	})
	b.do("trigger", "stick.umockdev")
	b.do("add", "keyboard.umockdev")
	// Events arrive in order: had the trigger been reported, it would
	// come before the keyboard.
	want(t, b.next(), event.UsbDeviceInserted, event.High, kbdNode, map[string]string{"found_by": "hotplug"})
	b.do("remove", "stick.umockdev")
	want(t, b.next(), event.UsbDeviceRemoved, event.Low, stickNode, map[string]string{"vendor_id": "0781", "product": "Cruzer Blade"})
}

// The seen store outlives the watcher: after a restart the keyboard is
// known (inventory), and plugged again it is Low.
func TestSeenDevicesSurviveRestart(t *testing.T) {
	state := t.TempDir()
	b := startBed(t, state)
	b.waitReady()
	b.do("add", "keyboard.umockdev")
	want(t, b.next(), event.UsbDeviceInserted, event.High, kbdNode, map[string]string{"known": "false"})
	b.restart()
	inv := b.waitReady()
	if len(inv) != 1 {
		t.Fatalf("inventory after restart %+v, want the keyboard", inv)
	}
	want(t, inv[0], event.UsbDeviceInserted, event.Low, kbdNode, with(kbdMeta, "known", "true", "found_by", "inventory"))
	b.do("remove-bare", "keyboard.umockdev")
	want(t, b.next(), event.UsbDeviceRemoved, event.Low, kbdNode, kbdMeta)
	b.do("add", "keyboard.umockdev")
	want(t, b.next(), event.UsbDeviceInserted, event.Low, kbdNode, map[string]string{"known": "true", "found_by": "hotplug"})

	fi, err := os.Stat(filepath.Join(state, usb.StoreName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("store mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(filepath.Join(state, usb.StoreName))
	if !strings.Contains(string(data), `"key":"046d:c31c:KB0042"`) {
		t.Errorf("store lacks the keyboard:\n%s", data)
	}
}

// A damaged store is named with its line, set aside, and treated as empty;
// the monitor goes on.
func TestCorruptStoreIsReportedAndSetAside(t *testing.T) {
	state := t.TempDir()
	store := filepath.Join(state, usb.StoreName)
	os.WriteFile(store, []byte("# header\n{\"key\":\"0781:5567:4C530001230516114083\",\"interfaces\":\"mass storage\"}\nnot json\n"), 0o600)
	b := startBed(t, state)
	inv := b.waitReady()
	if len(inv) != 1 || inv[0].Type != event.MonitorStatus || inv[0].Metadata["state"] != "degraded" ||
		!strings.Contains(inv[0].Metadata["reason"], store+":3:") {
		t.Fatalf("got %+v, want a degraded MonitorStatus naming %s:3", inv, store)
	}
	b.do("add", "stick.umockdev")
	want(t, b.next(), event.UsbDeviceInserted, event.Medium, stickNode, map[string]string{"known": "false", "interfaces": "mass storage"})
	if _, err := os.Stat(store + ".corrupt"); err != nil {
		t.Errorf("the damaged store was not set aside: %v", err)
	}
}

// A store that cannot be written is reported once; events keep coming and
// devices stay known while the monitor runs.
func TestStoreWriteFailureIsReportedOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	b := startBed(t, filepath.Join(file, "state")) // a directory under a file: cannot exist
	b.waitReady()
	b.do("add", "keyboard.umockdev")
	want(t, b.next(), event.UsbDeviceInserted, event.High, kbdNode, nil)
	e := b.next()
	if e.Type != event.MonitorStatus || e.Metadata["monitor"] != "usb" || e.Metadata["state"] != "degraded" ||
		!strings.Contains(e.Metadata["reason"], "cannot save the seen USB devices") {
		t.Fatalf("got %+v, want a degraded MonitorStatus about saving", e)
	}
	b.do("add", "stick.umockdev")
	want(t, b.next(), event.UsbDeviceInserted, event.Medium, stickNode, nil)
	b.do("remove", "keyboard.umockdev")
	want(t, b.next(), event.UsbDeviceRemoved, event.Low, kbdNode, nil)
	b.do("add", "keyboard.umockdev")
	want(t, b.next(), event.UsbDeviceInserted, event.Low, kbdNode, map[string]string{"known": "true"})
}
