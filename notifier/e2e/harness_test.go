package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/dbus/testutil"
)

const policy = "../../dbus/org.pantheros.Secmon.conf"

// wait bounds every wait for something observable.
const wait = 20 * time.Second

var bin string

// raceBuild is set under -race (race_test.go).
var raceBuild bool

// openerEnv turns the test binary into a program that opens the file named
// in it and holds it until its stdin closes (a stand-in camera user).
const openerEnv = "SECMON_NOTIFIER_E2E_OPENER"

func TestMain(m *testing.M) {
	if node := os.Getenv(openerEnv); node != "" {
		f, err := os.Open(node)
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("open\n")
		io.Copy(io.Discard, os.Stdin)
		f.Close()
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "secmon-notifier-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	// The notifier must build without cgo; the daemon is built as it
	// ships. Building the daemon is not importing it (deps_test.go).
	builds := []struct {
		pkg   string
		env   []string
		flags []string
	}{
		{"../cmd/secmon-notifier", []string{"CGO_ENABLED=0"}, nil},
		{"../../service/cmd/secmon-daemon", nil, nil},
	}
	if raceBuild {
		builds = append(builds, struct {
			pkg   string
			env   []string
			flags []string
		}{"../cmd/secmon-notifier", nil, []string{"-race"}})
	}
	for _, b := range builds {
		build := exec.Command("go", append(append([]string{"build"}, b.flags...), "-o", dir+"/", b.pkg)...)
		build.Env = append(os.Environ(), b.env...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "cannot build", b.pkg+":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needAll(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system-like bus applies the shipped policy, which lets only root own " + secmondbus.BusName)
	}
	for _, p := range []string{"dbus-daemon", "/usr/bin/python3"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (Debian packages dbus, python3-dbusmock)", p)
		}
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import dbusmock").Run(); err != nil {
		t.Skip("python3-dbusmock is not installed (Debian package python3-dbusmock)")
	}
}

// shortTempDir is a 0755 directory with a short path (socket paths must be
// under 108 bytes; t.TempDir() is 0700 and long).
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "smn")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// notifySocket is a NOTIFY_SOCKET the test owns, drained at once as
// systemd does; waitFor consumes the lines in order.
type notifySocket struct {
	t      *testing.T
	path   string
	mu     sync.Mutex
	lines  []string
	next   int
	update chan struct{}
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{t: t, path: path, update: make(chan struct{}, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.lines = append(n.lines, strings.Split(string(buf[:k]), "\n")...)
			n.mu.Unlock()
			select {
			case n.update <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return n
}

// waitFor returns the next unread line starting with prefix, or fails the
// test when the process exits first or the wait runs out.
func (n *notifySocket) waitFor(prefix string, exited <-chan struct{}) string {
	n.t.Helper()
	deadline := time.After(wait)
	for {
		n.mu.Lock()
		for n.next < len(n.lines) {
			line := n.lines[n.next]
			n.next++
			if strings.HasPrefix(line, prefix) {
				n.mu.Unlock()
				return line
			}
		}
		n.mu.Unlock()
		select {
		case <-n.update:
		case <-exited:
			n.t.Fatalf("process exited before sending %s", prefix)
		case <-deadline:
			n.t.Fatalf("no %s on NOTIFY_SOCKET within %v", prefix, wait)
		}
	}
}

// proc is a child process the test started and ends.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	out    *testutil.LockedBuffer
	notify *notifySocket
	exited chan struct{}
	err    error
}

// start runs a program in its own process group with a parent death
// signal, with NOTIFY_SOCKET set, and stops it at cleanup.
func start(t *testing.T, name string, argv []string, env []string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, out: &testutil.LockedBuffer{}, notify: newNotifySocket(t), exited: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+p.notify.path, "GORACE=atexit_sleep_ms=0")
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM (continuing a stopped process first) and waits; the
// process must exit 0.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGCONT)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			p.t.Errorf("%s exited with %v after SIGTERM", p.name, p.err)
		}
	case <-time.After(wait):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		p.t.Errorf("%s did not stop within %v of SIGTERM", p.name, wait)
	}
}

// kill ends the process with SIGKILL, as a crash would.
func (p *proc) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// world is one test's scratch layout and buses.
type world struct {
	t                  *testing.T
	dir, tree, state   string
	socket, daemonConf string
	camera             string // a stand-in camera node, if any
	sys, session       *dbustest.Bus
	mock               *mock
}

// newWorld is a world whose notification server is python3-dbusmock.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := newBareWorld(t, "")
	w.mock = startMock(t, w.session)
	return w
}

// newBareWorld is a world without a notification server; extraWatches is
// TOML appended to the daemon's configuration.
func newBareWorld(t *testing.T, extraWatches string) *world {
	t.Helper()
	needAll(t)
	dir := shortTempDir(t)
	w := &world{
		t: t, dir: dir,
		tree:       filepath.Join(dir, "tree"),
		state:      filepath.Join(dir, "state"),
		socket:     filepath.Join(dir, "run", "secmon.sock"),
		daemonConf: filepath.Join(dir, "daemon.toml"),
		camera:     filepath.Join(dir, "video0"),
	}
	if err := os.Mkdir(w.tree, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.camera, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`socket_path = %q
state_directory = %q
log_level = "debug"
dbus = "system"

[monitors]
filesystem = true
network = false
usb = false
camera = true
microphone = false
ssh = false

[camera]
devices = [%q]

[[watches]]
path = %q
description = "test tree"
recursive = true
%s`, w.socket, w.state, filepath.Join(dir, "video*"), w.tree, extraWatches)
	if err := os.WriteFile(w.daemonConf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	w.sys = dbustest.StartSystemLike(t, policy)
	w.session = dbustest.StartSession(t)
	return w
}

// startDaemon runs secmon-daemon on the system-like bus and returns once it
// is ready (READY=1; it owns the name before that).
func (w *world) startDaemon() *proc {
	w.t.Helper()
	p := start(w.t, "secmon-daemon", []string{filepath.Join(bin, "secmon-daemon"), w.daemonConf},
		[]string{"DBUS_SYSTEM_BUS_ADDRESS=" + w.sys.Address()})
	p.notify.waitFor("READY=1", p.exited)
	return p
}

// startNotifier runs secmon-notifier with notifierTOML as its config, and
// returns once it has sent READY=1.
func (w *world) startNotifier(notifierTOML string) *proc {
	w.t.Helper()
	conf := filepath.Join(w.dir, "notifier.toml")
	if err := os.WriteFile(conf, []byte(notifierTOML), 0o644); err != nil {
		w.t.Fatal(err)
	}
	p := start(w.t, "secmon-notifier", []string{filepath.Join(bin, "secmon-notifier"), "--config", conf, "--log-level", "debug"},
		[]string{"DBUS_SYSTEM_BUS_ADDRESS=" + w.sys.Address(), "DBUS_SESSION_BUS_ADDRESS=" + w.session.Address(),
			"XDG_STATE_HOME=" + filepath.Join(w.dir, "xdg-state")})
	p.notify.waitFor("READY=1", p.exited)
	return p
}

// following waits until the notifier says it follows the daemon.
func following(p *proc) {
	p.t.Helper()
	p.notify.waitFor("STATUS=following", p.exited)
}

// busConn is a connection to b for the test's own calls.
func busConn(t *testing.T, b *dbustest.Bus) *dbus.Conn {
	t.Helper()
	return b.Conn(t)
}

// lastSeqOf asks the daemon for the newest seq and the kept events after
// after, as a client would.
func eventsAfter(t *testing.T, conn *dbus.Conn, after uint64) []secmondbus.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var evs []secmondbus.Event
	var last uint64
	if err := conn.Object(secmondbus.BusName, secmondbus.ObjectPath).CallWithContext(ctx,
		secmondbus.Interface+"."+secmondbus.MethodGetEventsAfter, 0, after, uint32(0)).Store(&evs, &last); err != nil {
		t.Fatalf("GetEventsAfter: %v", err)
	}
	return evs
}
