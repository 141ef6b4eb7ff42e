package dbustest_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/dbus/dbustest"
)

func hasOwner(t *testing.T, conn *dbus.Conn, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dbustest.Timeout)
	defer cancel()
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
		t.Fatal(err)
	}
	return has
}

// A session-like bus lets its user own any name, and Env points both bus
// variables at it.
func TestSession(t *testing.T) {
	bus := dbustest.StartSession(t)
	if !strings.HasPrefix(bus.Address(), "unix:path=") {
		t.Fatalf("Address() = %q", bus.Address())
	}
	want := []string{"DBUS_SYSTEM_BUS_ADDRESS=" + bus.Address(), "DBUS_SESSION_BUS_ADDRESS=" + bus.Address()}
	if got := bus.Env(); !slices.Equal(got, want) {
		t.Errorf("Env() = %q; want %q", got, want)
	}
	a, b := bus.Conn(t), bus.Conn(t)
	if reply, err := a.RequestName("org.example.Test", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName: %v, %v", reply, err)
	}
	if !hasOwner(t, b, "org.example.Test") {
		t.Error("the other connection does not see the name owned")
	}
}

// A system-like bus denies what the system bus denies: without a policy
// file, no one may own a name, not even root.
func TestSystemLikeDeniesOwnership(t *testing.T) {
	bus := dbustest.StartSystemLike(t)
	_, err := bus.Conn(t).RequestName("org.example.Test", dbus.NameFlagDoNotQueue)
	var e dbus.Error
	if !asDBusError(err, &e) || e.Name != "org.freedesktop.DBus.Error.AccessDenied" {
		t.Fatalf("RequestName: %v; want AccessDenied", err)
	}
}

func asDBusError(err error, e *dbus.Error) bool {
	switch v := err.(type) {
	case dbus.Error:
		*e = v
		return true
	case *dbus.Error:
		*e = *v
		return true
	}
	return false
}

// Restart drops every connection, and a new one on the same address works.
func TestRestart(t *testing.T) {
	bus := dbustest.StartSession(t)
	addr := bus.Address()
	old := bus.Conn(t)
	bus.Restart(t)
	select {
	case <-old.Context().Done():
	case <-time.After(dbustest.Timeout):
		t.Fatal("a connection survived the restart")
	}
	if bus.Address() != addr {
		t.Fatalf("Address() = %q after Restart, was %q", bus.Address(), addr)
	}
	conn := bus.Conn(t)
	if !hasOwner(t, conn, "org.freedesktop.DBus") {
		t.Fatal("the restarted bus does not answer")
	}
}

// RunAs runs a program as exactly the user and groups asked for.
func TestRunAs(t *testing.T) {
	for _, tc := range []struct {
		groups []int
		want   string
	}{
		{nil, "65534 65534 65534"},
		{[]int{4242}, "65534 65534 65534 4242"},
	} {
		cmd := dbustest.RunAs(t, 65534, 65534, tc.groups, "/bin/sh", "-c", `echo "$(id -u) $(id -g) $(id -G)"`)
		// id -G lists the primary group first, then the supplementary ones;
		// a gid that names no group still counts.
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", cmd.Args, err)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("%v printed %q; want %q", cmd.Args, got, tc.want)
		}
	}
}

// Executable's copy is runnable by another user.
func TestExecutable(t *testing.T) {
	bin := dbustest.Executable(t)
	cmd := dbustest.RunAs(t, 65534, 65534, nil, bin, "-test.run=^$")
	// A race-enabled binary would otherwise linger a second after exiting.
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
}
