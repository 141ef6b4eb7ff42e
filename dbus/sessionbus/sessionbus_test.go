package sessionbus_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/dbus/sessionbus"
)

// The session bus is the one the environment names, else the user bus in
// the runtime directory; without either there is none, and none is
// launched.
func TestConnect(t *testing.T) {
	bus := dbustest.StartSession(t)
	socket := strings.TrimPrefix(bus.Address(), "unix:path=")
	runUserBus := fmt.Sprintf("/run/user/%d/bus", os.Getuid())
	_, err := os.Stat(runUserBus)
	hasUserBus := err == nil

	for _, tc := range []struct {
		name    string
		env     string // DBUS_SESSION_BUS_ADDRESS
		runtime string // what $XDG_RUNTIME_DIR/bus is: "socket", "file", ""
		want    string // "bus": connected to the test bus; "none"
	}{
		{"the environment's address", bus.Address(), "", "bus"},
		{"the runtime directory's bus", "", "socket", "bus"},
		{"autolaunch is not followed", "autolaunch:", "socket", "bus"},
		{"autolaunch with a scope is not followed", "autolaunch:scope=*user", "socket", "bus"},
		{"a file is no bus", "", "file", "none"},
		{"nothing", "", "", "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home, rt := t.TempDir(), t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("XDG_RUNTIME_DIR", rt)
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", tc.env)
			switch tc.runtime {
			case "socket":
				if err := os.Symlink(socket, filepath.Join(rt, "bus")); err != nil {
					t.Fatal(err)
				}
			case "file":
				os.WriteFile(filepath.Join(rt, "bus"), nil, 0o600)
			}
			conn, err := sessionbus.Connect()
			if tc.want == "none" {
				if hasUserBus {
					t.Skipf("this user has a session bus (%s): not checking that none is found", runUserBus)
				}
				if err == nil {
					conn.Close()
					t.Fatal("connected to a session bus that does not exist")
				}
				if ents, _ := os.ReadDir(home); len(ents) > 0 {
					t.Errorf("something was launched: %s holds %v", home, ents)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if len(conn.Names()) == 0 {
				t.Fatal("no unique name: Hello was not done")
			}
			if got := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); got != tc.env {
				t.Errorf("DBUS_SESSION_BUS_ADDRESS changed to %q", got)
			}
		})
	}
}
