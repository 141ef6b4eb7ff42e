// Package dbustest starts private dbus-daemons for tests, so that the
// daemon's, the notifier's and the policy's tests talk to a real bus and
// never to the machine's own.
//
// StartSystemLike gives a bus configured like the system bus (the same
// default policy: no one may own a name or call a method unless a policy
// file says so) that includes the policy files a test names, normally the
// repository's own dbus/org.pantheros.Secmon.conf, so the shipped policy is
// what the test exercises. StartSession gives a plain session-like bus.
// Point a program at either with Bus.Env (godbus's ConnectSystemBus and
// ConnectSessionBus read it) or at busctl with --address=Bus.Address().
//
// The policy is real: a process's user and groups decide what it may do.
// RunAs starts a program as another user, and Executable copies the test
// binary to where another user can run it, so a test can re-exec itself as
// nobody. The private system-like bus runs as the test's user; a test that
// needs to own org.pantheros.Secmon on it must run as root, since the
// policy lets only root and user secmon own it.
//
// Every process started here is in its own process group with a parent
// death signal, and is stopped in t.Cleanup.
package dbustest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Timeout bounds every wait here: for a bus to start or stop, and for a
// connection to be authenticated.
const Timeout = 15 * time.Second

// maxSocketPath is sun_path's size less its terminating NUL.
const maxSocketPath = 107

// Bus is a private dbus-daemon listening on a unix socket.
type Bus struct {
	dir    string // 0755, created by os.MkdirTemp: the socket and the config
	socket string
	config string
	log    string // dbus-daemon's stderr, all runs appended
	cmd    *exec.Cmd
	exited chan error // receives cmd.Wait's result once
}

// StartSystemLike starts a bus configured like the system bus, with an
// <include ignore_missing="no"> of each policy file, in order. Relative
// paths are taken from the test's working directory (the package's).
//
// The configuration is Debian's (and upstream's) system.conf less what a
// private bus cannot or must not have: <user> (it runs as the test's user),
// <fork> (the test owns the process), <syslog> (its messages go to the test
// log instead), the service helper and the standard service directories (no
// activation), the pid file, and the machine's system.d directories (the
// test sees only the policy it names, not whatever is installed). It
// listens on unix:path=DIR/bus, and root may use
// org.freedesktop.DBus.Monitoring, so busctl monitor works as root.
//
// It skips the test when dbus-daemon is not installed.
func StartSystemLike(t testing.TB, policyFiles ...string) *Bus {
	t.Helper()
	var includes strings.Builder
	for _, f := range policyFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatalf("dbustest: policy file %s: %v", f, err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("dbustest: policy file: %v", err)
		}
		fmt.Fprintf(&includes, "  <include ignore_missing=\"no\">%s</include>\n", escape(abs))
	}
	return start(t, func(listen string) string {
		return fmt.Sprintf(systemConfig, escape(listen), includes.String())
	})
}

// StartSession starts a bus configured like a session bus: anyone
// connected may own any name and call anything. As on a real session bus,
// only the test's own user may connect. It skips the test when dbus-daemon
// is not installed.
func StartSession(t testing.TB) *Bus {
	t.Helper()
	return start(t, func(listen string) string {
		return fmt.Sprintf(sessionConfig, escape(listen))
	})
}

// Address is the bus's address, unix:path=…; it stays the same across
// Restart.
func (b *Bus) Address() string { return "unix:path=" + b.socket }

// Env is the environment that points a program at this bus, as both its
// system and its session bus. Append it to os.Environ() for a child.
func (b *Bus) Env() []string {
	return []string{
		"DBUS_SYSTEM_BUS_ADDRESS=" + b.Address(),
		"DBUS_SESSION_BUS_ADDRESS=" + b.Address(),
	}
}

// Conn opens a private connection to the bus, authenticated and with its
// unique name (Hello done), and closes it at cleanup. A Restart disconnects
// it, like every other connection.
func (b *Bus) Conn(t testing.TB) *dbus.Conn {
	t.Helper()
	// The context bounds authentication: cancelling it closes the
	// connection, which fails a pending read. Once connected, only the
	// cleanup cancels it.
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(Timeout, cancel)
	conn, err := dbus.Connect(b.Address(), dbus.WithContext(ctx))
	if !timer.Stop() {
		err = fmt.Errorf("not connected within %v (last error: %v)", Timeout, err)
	}
	if err != nil {
		cancel()
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("dbustest: connect to %s: %v%s", b.Address(), err, b.logTail())
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
	})
	return conn
}

// Restart stops the dbus-daemon and starts a new one with the same
// configuration on the same socket path, as when the system bus restarts:
// every connection is dropped, and a client must connect again.
func (b *Bus) Restart(t testing.TB) {
	t.Helper()
	if err := b.stop(); err != nil {
		t.Fatalf("dbustest: restart: %v%s", err, b.logTail())
	}
	// dbus-daemon removes its socket when it stops cleanly; a stale one
	// would make the new daemon fail to bind.
	if err := os.Remove(b.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dbustest: restart: %v", err)
	}
	if err := b.launch(); err != nil {
		t.Fatalf("dbustest: restart: %v", err)
	}
}

func start(t testing.TB, config func(listen string) string) *Bus {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbustest: dbus-daemon is not installed (Debian package dbus):", err)
	}
	dir := socketDir(t)
	b := &Bus{
		dir:    dir,
		socket: filepath.Join(dir, "bus"),
		config: filepath.Join(dir, "bus.conf"),
		log:    filepath.Join(dir, "dbus-daemon.log"),
	}
	if err := os.WriteFile(b.config, []byte(config("unix:path="+b.socket)), 0o644); err != nil {
		t.Fatalf("dbustest: %v", err)
	}
	// Cleanups run last first: stop the daemon, then remove its directory.
	t.Cleanup(func() { os.RemoveAll(dir) })
	t.Cleanup(func() {
		if err := b.stop(); err != nil {
			t.Errorf("dbustest: %v", err)
		}
		if t.Failed() {
			t.Logf("dbustest: dbus-daemon's log:%s", b.logTail())
		}
	})
	if err := b.launch(); err != nil {
		t.Fatalf("dbustest: %v", err)
	}
	return b
}

// socketDir makes a 0755 directory with a short path: other users must be
// able to reach the socket (t.TempDir is 0700), and a unix socket's path
// must fit in 108 bytes.
func socketDir(t testing.TB) string {
	t.Helper()
	var dir string
	for _, parent := range []string{"", "/tmp"} {
		d, err := os.MkdirTemp(parent, "secmon-bus-")
		if err != nil {
			t.Fatalf("dbustest: %v", err)
		}
		if len(d)+len("/bus") <= maxSocketPath {
			dir = d
			break
		}
		os.Remove(d)
	}
	if dir == "" {
		t.Fatalf("dbustest: no temporary directory short enough for a unix socket (TMPDIR=%q)", os.Getenv("TMPDIR"))
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.Remove(dir)
		t.Fatalf("dbustest: %v", err)
	}
	return dir
}

// launch starts dbus-daemon and returns once it has printed its address,
// which it does when it listens.
func (b *Bus) launch() error {
	logf, err := os.OpenFile(b.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command("dbus-daemon", "--config-file="+b.config, "--nofork", "--nopidfile", "--print-address=1")
	cmd.Stdout = w
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	b.cmd = cmd
	b.exited = make(chan error, 1)
	go func() { b.exited <- cmd.Wait() }()

	type line struct {
		s   string
		err error
	}
	got := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		got <- line{s, err}
	}()
	timeout := time.NewTimer(Timeout)
	defer timeout.Stop()
	select {
	case l := <-got:
		if l.err == nil && strings.HasPrefix(l.s, "unix:path="+b.socket+",") {
			return nil
		}
		if l.s == "" {
			// It exited: a bad configuration, most likely.
			err = fmt.Errorf("dbus-daemon did not start (%v)", l.err)
		} else {
			err = fmt.Errorf("dbus-daemon printed %q, want the address of %s", l.s, b.socket)
		}
		b.kill()
	case <-timeout.C:
		err = fmt.Errorf("dbus-daemon did not print its address within %v", Timeout)
		b.kill()
		// The reader returns once the daemon is gone, as the pipe's last
		// writer is.
		<-got
	}
	return fmt.Errorf("%w%s", err, b.logTail())
}

// stop stops the running dbus-daemon, if any: SIGTERM, then Wait, then
// SIGKILL to its process group if it does not exit in time. A daemon that
// had already exited by itself is an error (it crashed mid-test).
func (b *Bus) stop() error {
	if b.cmd == nil {
		return nil
	}
	defer func() { b.cmd, b.exited = nil, nil }()
	select {
	case err := <-b.exited:
		return fmt.Errorf("dbus-daemon exited before it was stopped: %v%s", err, b.logTail())
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	timeout := time.NewTimer(Timeout)
	defer timeout.Stop()
	select {
	case err := <-b.exited:
		if err != nil {
			return fmt.Errorf("dbus-daemon: %v%s", err, b.logTail())
		}
		return nil
	case <-timeout.C:
		b.kill()
		return fmt.Errorf("dbus-daemon did not stop within %v of SIGTERM; killed", Timeout)
	}
}

// kill kills the daemon's process group and waits for the daemon. The
// group still exists: its leader is not reaped until exited is read.
func (b *Bus) kill() {
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	<-b.exited
	b.cmd, b.exited = nil, nil
}

// logTail is the end of dbus-daemon's stderr, for an error message.
func (b *Bus) logTail() string {
	data, _ := os.ReadFile(b.log)
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return ""
	}
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	return "\n" + string(data)
}

func escape(s string) string {
	var buf strings.Builder
	xml.EscapeText(&buf, []byte(s))
	return buf.String()
}

// RunAs returns a command, not yet started, that runs name with args as
// uid and gid with exactly the supplementary groups given (none when
// groups is empty), through setpriv. The bus decides by a connection's
// credentials, so this is how a test is another user.
//
// Another user cannot run the test binary where go test builds it (a 0700
// directory): re-exec Executable(t) instead of os.Args[0]. The command runs
// in / (the package directory may be unreachable for that user), with the
// test's environment unless the caller sets Env, in its own process group,
// and with a parent death signal that survives the change of user. When the
// test ends, a process still running is killed with its group; the caller
// still Waits for it. It skips the test unless it runs as root with setpriv
// installed.
func RunAs(t testing.TB, uid, gid int, groups []int, name string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("dbustest: running a process as another user needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("dbustest: setpriv is not installed (Debian package util-linux):", err)
	}
	argv := []string{fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", gid)}
	if len(groups) == 0 {
		argv = append(argv, "--clear-groups")
	} else {
		gs := make([]string, len(groups))
		for i, g := range groups {
			gs[i] = fmt.Sprint(g)
		}
		argv = append(argv, "--groups="+strings.Join(gs, ","))
	}
	// setpriv's own pdeathsig is cleared by the change of user; this sets
	// it again after, and exec keeps it.
	argv = append(argv, "--pdeathsig=SIGKILL", "--", name)
	argv = append(argv, args...)
	cmd := exec.CommandContext(t.Context(), "setpriv", argv...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = Timeout
	return cmd
}

// Executable copies the running test binary into a new 0755 directory as a
// 0755 file that any user can run, removed at cleanup, and returns its
// path. go test builds the binary in a 0700 directory.
func Executable(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("dbustest: %v", err)
	}
	dir, err := os.MkdirTemp("", "secmon-test-bin-")
	if err != nil {
		t.Fatalf("dbustest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("dbustest: %v", err)
	}
	dst := filepath.Join(dir, filepath.Base(self))
	if err := copyFile(dst, self); err != nil {
		t.Fatalf("dbustest: copy the test binary: %v", err)
	}
	return dst
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// Close before anyone execs it: a file open for writing is "text file
	// busy".
	return out.Close()
}

// systemConfig is the system bus configuration (dbus 1.14's system.conf),
// less <user>, <fork>, <syslog>, <servicehelper>,
// <standard_system_servicedirs>, <pidfile> and the includes of the
// machine's configuration. Arguments: the listen address, the includes.
const systemConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>%s</listen>

  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus" />
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Containers1"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus.Debug.Stats"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.systemd1.Activator"/>
  </policy>

  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.systemd1.Activator"/>
  </policy>

  <!-- root may monitor the bus: busctl monitor, dbus-monitor. -->
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>

  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>

%s</busconfig>
`

// sessionConfig is a session bus configuration (dbus 1.14's session.conf)
// less the service directories and the machine's includes. Argument: the
// listen address.
const sessionConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <auth>EXTERNAL</auth>
  <listen>%s</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`
