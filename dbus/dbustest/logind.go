package dbustest

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
)

// LogindPolicy is the real logind's bus policy, as systemd installs it.
const LogindPolicy = "/usr/share/dbus-1/system.d/org.freedesktop.login1.conf"

// StartLogind runs python3-dbusmock's logind template on a private
// system-like bus that has logind's own policy, and returns the bus once
// the mock owns org.freedesktop.login1. log, if not empty, is dbusmock's
// log file (a line per method call). It skips the test unless it runs as
// root (the policy lets only root own the name) with the policy and
// python3-dbusmock installed; the mock is stopped at cleanup.
func StartLogind(t testing.TB, log string) *Bus {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("logind's policy lets only root own org.freedesktop.login1: run as root")
	}
	if _, err := os.Stat(LogindPolicy); err != nil {
		t.Skipf("no logind policy (Debian package systemd): %v", err)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import dbusmock").Run(); err != nil {
		t.Skip("python3-dbusmock is not installed (Debian package python3-dbusmock)")
	}
	b := StartSystemLike(t, LogindPolicy)
	conn := b.Conn(t)
	args := []string{"-m", "dbusmock", "--system", "--template", "logind"}
	if log != "" {
		args = append(args, "-l", log)
	}
	out := &testutil.LockedBuffer{}
	cmd := exec.Command("/usr/bin/python3", args...)
	cmd.Env = append(os.Environ(), b.Env()...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(Timeout):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("dbusmock output:\n%s", out.String())
		}
	})
	testutil.WaitFor(t, Timeout, "dbusmock owns org.freedesktop.login1", func() bool {
		select {
		case <-done:
			t.Fatalf("dbusmock exited:\n%s", out.String())
		default:
		}
		var has bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.login1").Store(&has)
		return has
	})
	return b
}
