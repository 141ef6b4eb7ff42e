package e2e_test

import (
	"bufio"
	"encoding/json"
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

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/event"
)

// bin holds the binaries built once for all tests.
var bin string

// openerEnv turns the test binary into a program that opens the file named
// in it and holds it until its stdin closes (a stand-in camera user).
const openerEnv = "SECMON_E2E_OPENER"

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
	dir, err := os.MkdirTemp("", "secmon-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/secmon-daemon", "../cmd/secmon-client", "../../notifier/cmd/secmon-notifier")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot build the binaries:", err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// notifySocket is a NOTIFY_SOCKET the test owns. A goroutine drains it at
// once, as systemd does (a unixgram queue holds only a few datagrams, and a
// full one blocks the sender); waitFor consumes the lines in order.
type notifySocket struct {
	t      *testing.T
	path   string
	conn   *net.UnixConn
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
	n := &notifySocket{t: t, path: path, conn: c, update: make(chan struct{}, 1)}
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

// waitFor returns the next unread line starting with prefix, waiting up to
// 15 s, or fails the test early when the process d exits.
func (n *notifySocket) waitFor(prefix string, d ...*daemonProc) string {
	n.t.Helper()
	deadline := time.After(15 * time.Second)
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
		var exited <-chan struct{}
		if len(d) > 0 {
			exited = d[0].exited
		}
		select {
		case <-n.update:
		case <-exited:
			n.t.Fatalf("process exited (%v) before %s:\n%s", d[0].err, prefix, d[0].stderr.String())
		case <-deadline:
			n.t.Fatalf("waiting for %s from sd_notify: timed out", prefix)
		}
	}
}

// shortTempDir is a 0755 directory with a short path (socket paths must be
// under 108 bytes; t.TempDir() is 0700 and long).
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "sm")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *testutil.LockedBuffer
	stdout *testutil.LockedBuffer
	notify *notifySocket
	// exited is closed once the process has been waited for; err is
	// Wait's result, to be read only after that.
	exited chan struct{}
	err    error
}

// env is the test's scratch layout: a socket, a state directory, a watched
// tree and a config that ties them together.
type env struct {
	dir, socket, state, tree, config string
	// dbus is the config's dbus key: off unless a test wants a bus.
	dbus string
	// camera, if set, is a glob of stand-in camera nodes and turns the
	// camera monitor on.
	camera string
	// usb turns the USB monitor on (run the daemon under umockdev).
	usb bool
	// ssh turns the ssh monitor on; give its [ssh] table in extra.
	ssh bool
	// network turns the network monitor on.
	network bool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := shortTempDir(t)
	e := &env{
		dir:    dir,
		socket: filepath.Join(dir, "run", "secmon.sock"),
		state:  filepath.Join(dir, "state"),
		tree:   filepath.Join(dir, "tree"),
		config: filepath.Join(dir, "config.toml"),
		dbus:   "off",
	}
	if err := os.Mkdir(e.tree, 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// writeConfig writes the base config plus extra TOML (tables: it comes
// after [[watches]]); top, if given, are top-level keys put first.
func (e *env) writeConfig(t *testing.T, extra string, top ...string) {
	t.Helper()
	base := fmt.Sprintf(strings.Join(top, "\n")+`socket_path = %q
state_directory = %q
log_level = "debug"
dbus = %q

[monitors]
filesystem = true
network = %v
usb = %v
camera = %v
microphone = false
ssh = %v

[camera]
devices = %s

[[watches]]
path = %q
description = "test tree"
recursive = true
`, e.socket, e.state, e.dbus, e.network, e.usb, e.camera != "", e.ssh, tomlList(e.camera), e.tree)
	if err := os.WriteFile(e.config, []byte(base+extra), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startDaemon runs secmon-daemon with args and waits for READY=1. It is
// stopped with SIGTERM at cleanup and must then exit 0.
func startDaemon(t *testing.T, args []string, extraEnv ...string) *daemonProc {
	t.Helper()
	d := launch(t, exec.Command(filepath.Join(bin, "secmon-daemon"), args...), extraEnv...)
	d.notify.waitFor("READY=1", d)
	return d
}

func launch(t *testing.T, cmd *exec.Cmd, extraEnv ...string) *daemonProc {
	t.Helper()
	n := newNotifySocket(t)
	d := &daemonProc{t: t, cmd: cmd, stderr: &testutil.LockedBuffer{}, stdout: &testutil.LockedBuffer{}, notify: n, exited: make(chan struct{})}
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+n.path)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = d.stdout, d.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", d.stderr.String())
		}
	})
	return d
}

// stop sends SIGTERM and waits; the daemon must exit 0. A process that
// has already exited is left alone (whoever waited for it judged it).
func (d *daemonProc) stop() {
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if d.err != nil {
			d.t.Errorf("daemon exited with %v after SIGTERM", d.err)
		}
	case <-time.After(15 * time.Second):
		// A goroutine dump on stderr says where it is stuck.
		d.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.exited
		}
		d.t.Errorf("daemon did not stop within 15s of SIGTERM; stderr:\n%s", d.stderr.String())
	}
}

// wait waits for the process to exit on its own and returns its error.
func (d *daemonProc) wait() error {
	select {
	case <-d.exited:
		return d.err
	case <-time.After(15 * time.Second):
		d.t.Fatal("process did not exit within 15s")
		return nil
	}
}

// stream is a raw socket client.
type stream struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func connect(t *testing.T, socket string) *stream {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &stream{t: t, conn: c, r: bufio.NewReaderSize(c, 1<<20)}
}

func (s *stream) send(line string) {
	s.t.Helper()
	if _, err := s.conn.Write([]byte(line + "\n")); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stream) next() event.Event {
	s.t.Helper()
	e, err := s.read()
	if err != nil {
		s.t.Fatal(err)
	}
	return e
}

// read returns the next event, or an error after 15 s without one.
func (s *stream) read() (event.Event, error) {
	s.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	b, err := s.r.ReadBytes('\n')
	if err != nil {
		return event.Event{}, fmt.Errorf("reading an event at %s: %w (partial %q)", time.Now().Format("15:04:05.000"), err, b)
	}
	var e event.Event
	if err := json.Unmarshal(b, &e); err != nil {
		return event.Event{}, fmt.Errorf("line %q: %w", b, err)
	}
	return e, nil
}

// until reads events until match returns true, and returns them all; on
// a timeout it fails with the events it read before (what did arrive
// says which step was lost).
func (s *stream) until(match func(event.Event) bool) []event.Event {
	s.t.Helper()
	var out []event.Event
	for {
		e, err := s.read()
		if err != nil {
			var seen strings.Builder
			for _, e := range out {
				fmt.Fprintf(&seen, "\n  %d %s %s %s", e.Seq, e.Type, e.Path, e.Description)
			}
			s.t.Fatalf("%v; read before, in this wait:%s", err, seen.String())
		}
		out = append(out, e)
		if match(e) {
			return out
		}
	}
}

func pathIs(p string) func(event.Event) bool {
	return func(e event.Event) bool { return e.Path == p }
}

// tomlList is a TOML array of s, or an empty one.
func tomlList(s string) string {
	if s == "" {
		return "[]"
	}
	return fmt.Sprintf("[%q]", s)
}
