package devaccess_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/devaccess"
	"github.com/pantheros/secmon/service/internal/event"
)

const openerEnv = "SECMON_DEVACCESS_TEST_OPENER"

// quickEnv makes the opener open the node and exit at once.
const quickEnv = "SECMON_DEVACCESS_TEST_QUICK"

// TestMain turns the test binary into the opener when asked: it opens the
// node named in the environment, says so, and holds it until stdin closes.
func TestMain(m *testing.M) {
	if node := os.Getenv(openerEnv); node != "" {
		f, err := os.Open(node)
		if err != nil {
			os.Exit(3)
		}
		if os.Getenv(quickEnv) != "" {
			os.Exit(0) // the kernel closes it: gone before anyone can look
		}
		os.Stdout.WriteString("open\n")
		io.Copy(io.Discard, os.Stdin)
		f.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type opener struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startOpener runs a copy of the test binary named name holding node.
func startOpener(t *testing.T, name, node string) *opener {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	if err := os.Link(self, bin); err != nil {
		b, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(bin, b, 0o755)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), openerEnv+"="+node, "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line := make([]byte, 5)
	if _, err := io.ReadFull(out, line); err != nil {
		t.Fatalf("opener did not open %s: %v", node, err)
	}
	return &opener{cmd: cmd, stdin: stdin}
}

func (o *opener) release(t *testing.T) {
	o.stdin.Close()
	o.cmd.Wait()
}

func run(t *testing.T, kind devaccess.Kind, globs ...string) chan event.Event {
	t.Helper()
	w, err := devaccess.New(kind, globs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan event.Event, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := w.Ready()
	go func() { done <- w.Run(ctx, func(e event.Event) { ch <- e }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not ready")
	}
	// It has said what it watches and how it names openers, first.
	select {
	case e := <-ch:
		mon, st, reason, _ := event.StatusOf(e)
		fan := strings.HasSuffix(reason, "openers named by fanotify")
		if mon != kind.Name || !strings.HasPrefix(reason, "watching "+strings.Join(globs, ", ")+"; ") ||
			(st == event.Running) != fan || (st != event.Running && st != event.Degraded) {
			t.Fatalf("first event %+v, want the %s monitor's status", e, kind.Name)
		}
	default:
		t.Fatal("no status before Ready")
	}
	return ch
}

func next(t *testing.T, ch chan event.Event) event.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return event.Event{}
	}
}

func TestCameraAccessNamesOpenerThenReleased(t *testing.T) {
	dir := t.TempDir()
	node := filepath.Join(dir, "video0")
	os.WriteFile(node, nil, 0o644) // a stand-in: inotify treats it like the device node
	ch := run(t, devaccess.Camera, filepath.Join(dir, "video*"))

	a := startOpener(t, "cam-opener", node)
	e := next(t, ch)
	if e.Type != event.CameraAccess || e.Path != node || e.Process == nil ||
		e.Process.Comm != "cam-opener" || e.Process.PID != a.cmd.Process.Pid {
		t.Fatalf("got %+v (process %+v), want CameraAccess by cam-opener pid %d", e, e.Process, a.cmd.Process.Pid)
	}
	// A second program at once is reported once, too.
	b := startOpener(t, "second-app", node)
	if e := next(t, ch); e.Type != event.CameraAccess || e.Process == nil || e.Process.PID != b.cmd.Process.Pid {
		t.Fatalf("got %+v, want CameraAccess by the second opener", e)
	}
	a.release(t)
	b.release(t)
	e = next(t, ch)
	if e.Type != event.CameraReleased || e.Path != node || e.Metadata["duration_ms"] == "" {
		t.Fatalf("got %+v, want CameraReleased with a duration", e)
	}
	select {
	case e := <-ch:
		t.Fatalf("unexpected extra event %+v", e)
	default:
	}
}

func TestNodeAppearingLaterIsWatched(t *testing.T) {
	dir := t.TempDir()
	ch := run(t, devaccess.Microphone, filepath.Join(dir, "pcmC*D*c"))
	capture := filepath.Join(dir, "pcmC0D0c")
	playback := filepath.Join(dir, "pcmC0D0p")
	os.WriteFile(playback, nil, 0o644)
	os.WriteFile(capture, nil, 0o644) // hot-plugged after start
	// Playback is not a microphone: opening it gives nothing, the capture
	// node opened after it does.
	startOpener(t, "player", playback).release(t)
	o := startOpener(t, "recorder", capture)
	if e := next(t, ch); e.Type != event.MicrophoneAccess || e.Path != capture || e.Process == nil || e.Process.Comm != "recorder" {
		t.Fatalf("got %+v, want MicrophoneAccess on the capture node by recorder", e)
	}
	o.release(t)
	if e := next(t, ch); e.Type != event.MicrophoneReleased {
		t.Fatalf("got %+v, want MicrophoneReleased", e)
	}
}

// With CAP_SYS_ADMIN, fanotify names even an opener that has exited before
// /proc could be read: 20 in a row, each by its own pid.
func TestShortLivedOpenersAreNamedWithFanotify(t *testing.T) {
	if !devaccess.HasSysAdmin() {
		t.Skip("fanotify names openers only with CAP_SYS_ADMIN (CI runs as root)")
	}
	dir := t.TempDir()
	node := filepath.Join(dir, "video0")
	os.WriteFile(node, nil, 0o644)
	ch := run(t, devaccess.Camera, filepath.Join(dir, "video*"))
	self, _ := os.Executable()
	bin := filepath.Join(t.TempDir(), "blink")
	if err := os.Link(self, bin); err != nil {
		b, _ := os.ReadFile(self)
		os.WriteFile(bin, b, 0o755)
	}
	for i := range 20 {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), openerEnv+"="+node, quickEnv+"=1", "GORACE=atexit_sleep_ms=0")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		e := next(t, ch)
		if e.Type != event.CameraAccess || e.Metadata["attribution"] != "fanotify" || e.Process == nil || e.Process.PID != cmd.Process.Pid {
			t.Fatalf("opener %d (pid %d): got %+v process %+v, want CameraAccess by fanotify naming the pid", i, cmd.Process.Pid, e, e.Process)
		}
		if e := next(t, ch); e.Type != event.CameraReleased {
			t.Fatalf("opener %d: got %+v, want CameraReleased", i, e)
		}
	}
}

// A device unplugged while a program still holds it, and plugged back in:
// the name now stands for a new node, which is watched; the old use ends as
// removed.
func TestReplugWhileHeldWatchesTheNewNode(t *testing.T) {
	dir := t.TempDir()
	node := filepath.Join(dir, "video0")
	os.WriteFile(node, nil, 0o644)
	ch := run(t, devaccess.Camera, filepath.Join(dir, "video*"))

	old := startOpener(t, "old-user", node)
	if e := next(t, ch); e.Type != event.CameraAccess || e.Process == nil || e.Process.Comm != "old-user" {
		t.Fatalf("got %+v, want CameraAccess by old-user", e)
	}
	// Unplug (the node goes, old-user keeps its fd) and re-plug.
	if err := os.Remove(node); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(node, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if e := next(t, ch); e.Type != event.CameraReleased || e.Metadata["how"] != "removed" {
		t.Fatalf("got %+v, want CameraReleased how=removed for the unplugged node", e)
	}
	// The re-plugged node reports its own opener. (Under fanotify, that
	// needs a new mark and handle.)
	nu := startOpener(t, "new-user", node)
	if e := next(t, ch); e.Type != event.CameraAccess || e.Process == nil || e.Process.Comm != "new-user" {
		t.Fatalf("got %+v, want CameraAccess by new-user on the re-plugged node", e)
	}
	old.release(t) // the old node's last close is no event of the new one
	nu.release(t)
	if e := next(t, ch); e.Type != event.CameraReleased || e.Metadata["how"] != "closed" {
		t.Fatalf("got %+v, want CameraReleased how=closed", e)
	}
	select {
	case e := <-ch:
		t.Fatalf("unexpected extra event %+v", e)
	default:
	}
}

// pipeWire runs a real PipeWire daemon in a private runtime directory with
// a microphone-like node (ALSA card 0, device 0) and a pw-record stream
// linked to it, as WirePlumber would link them. It returns the runtime
// directory and pw-record's pid.
func pipeWire(t *testing.T) (string, int) {
	t.Helper()
	for _, p := range []string{"pipewire", "pw-cli", "pw-dump", "pw-link", "pw-record"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (Debian: pipewire, pipewire-bin)", p)
		}
	}
	rt, err := os.MkdirTemp("", "secmon-pw-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	conf := filepath.Join(rt, "pw.conf")
	os.WriteFile(conf, []byte(`context.properties = { core.daemon = true core.name = pipewire-0 support.dbus = false }
context.spa-libs = { support.* = support/libspa-support audio.convert.* = audioconvert/libspa-audioconvert }
context.modules = [
  { name = libpipewire-module-protocol-native }
  { name = libpipewire-module-client-node }
  { name = libpipewire-module-adapter }
  { name = libpipewire-module-link-factory }
  { name = libpipewire-module-spa-node-factory }
  { name = libpipewire-module-access }
]
`), 0o644)
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+rt, "PIPEWIRE_RUNTIME_DIR="+rt)
	bg := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, rt
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		return cmd
	}
	run := func(name string, args ...string) []byte {
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, rt
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return out
	}
	// until retries fn (a query of PipeWire's state) up to a deadline.
	until := func(what string, fn func() bool) {
		t.Helper()
		testutil.WaitFor(t, 10*time.Second, "PipeWire: "+what, fn)
	}
	bg("pipewire", "-c", conf)
	until("socket", func() bool { _, err := os.Stat(filepath.Join(rt, "pipewire-0")); return err == nil })
	run("pw-cli", "create-node", "adapter", `{ factory.name=support.null-audio-sink node.name=fake-mic media.class=Audio/Source api.alsa.pcm.card=0 api.alsa.pcm.device=0 audio.position=[MONO] object.linger=true }`)
	rec := bg("pw-record", "--target", "fake-mic", "-P", "{ node.name=rec-stream }", filepath.Join(rt, "out.wav"))
	ids := map[string]string{}
	until("both nodes", func() bool {
		var objs []struct {
			ID   int
			Info *struct{ Props map[string]any }
		}
		cmd := exec.Command("pw-dump")
		cmd.Env = env
		out, _ := cmd.Output()
		json.Unmarshal(out, &objs)
		for _, o := range objs {
			if o.Info != nil {
				if n, ok := o.Info.Props["node.name"].(string); ok {
					ids[n] = strconv.Itoa(o.ID)
				}
			}
		}
		return ids["fake-mic"] != "" && ids["rec-stream"] != ""
	})
	// Without a session manager, ports appear once someone configures them.
	format := `format: { mediaType: audio, mediaSubtype: raw, format: F32P, rate: 48000, channels: 1, position: [ MONO ] } }`
	run("pw-cli", "set-param", ids["fake-mic"], "PortConfig", `{ direction: Input, mode: dsp, monitor: true, `+format)
	run("pw-cli", "set-param", ids["rec-stream"], "PortConfig", `{ direction: Input, mode: dsp, `+format)
	until("ports", func() bool {
		cmd := exec.Command("pw-link", "fake-mic:monitor_MONO", "rec-stream:input_MONO")
		cmd.Env = env
		return cmd.Run() == nil
	})
	return rt, rec.Process.Pid
}

// PipeWire opens the microphone for pw-record: the event names pipewire as
// the opener and broker, and pw-record, read from PipeWire's graph, as the
// client behind it.
func TestPipeWireBrokerNamesTheLinkedClient(t *testing.T) {
	rt, recPID := pipeWire(t)
	dir := t.TempDir()
	capture := filepath.Join(dir, "pcmC0D0c")
	os.WriteFile(capture, nil, 0o644)
	ch := run(t, devaccess.Microphone, filepath.Join(dir, "pcmC*D*c"))

	// A stand-in broker: a program named pipewire, in PipeWire's runtime
	// directory, opens the node the way the real one opens /dev/snd.
	t.Setenv("XDG_RUNTIME_DIR", rt)
	b := startOpener(t, "pipewire", capture)
	e := next(t, ch)
	if e.Type != event.MicrophoneAccess || e.Process == nil || e.Process.Comm != "pipewire" || e.Process.PID != b.cmd.Process.Pid {
		t.Fatalf("got %+v (process %+v), want MicrophoneAccess with pipewire as the process", e, e.Process)
	}
	want := map[string]string{"broker": "pipewire", "client": "pw-record", "client_pid": strconv.Itoa(recPID), "client_lookup": "pipewire graph"}
	for k, v := range want {
		if e.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q (all: %v)", k, e.Metadata[k], v, e.Metadata)
		}
	}
	if !strings.Contains(e.Description, "pw-record (pid "+strconv.Itoa(recPID)+") through pipewire") {
		t.Errorf("description %q does not name the client through the broker", e.Description)
	}
	b.release(t)
	if e := next(t, ch); e.Type != event.MicrophoneReleased {
		t.Fatalf("got %+v, want MicrophoneReleased", e)
	}
}
