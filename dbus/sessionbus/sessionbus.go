// Package sessionbus connects to the user's session bus without ever
// launching one. godbus's ConnectSessionBus runs dbus-launch when no bus
// is found (and sets DBUS_SESSION_BUS_ADDRESS in the process as it goes):
// that bus would be private to the caller, outlive it, and reach nobody,
// neither the notification server the notifier talks to nor the clients
// of a user-mode daemon. Shared by the daemon (user mode) and the notifier;
// cgo-free, it imports only godbus.
package sessionbus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"
)

// Address is the session bus's address: DBUS_SESSION_BUS_ADDRESS, unless
// it is unset or asks for autolaunch; else the user bus of systemd and
// dbus-broker, $XDG_RUNTIME_DIR/bus or /run/user/UID/bus, if it is a
// socket.
func Address() (string, error) {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && !strings.HasPrefix(addr, "autolaunch:") {
		return addr, nil
	}
	var dirs []string
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		dirs = append(dirs, rt)
	}
	dirs = append(dirs, filepath.Join("/run/user", strconv.Itoa(os.Getuid())))
	for _, d := range dirs {
		p := filepath.Join(d, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode().Type() == os.ModeSocket {
			return "unix:path=" + dbus.EscapeBusAddressValue(p), nil
		}
	}
	return "", errors.New("cannot find the session bus: DBUS_SESSION_BUS_ADDRESS is unset and there is no $XDG_RUNTIME_DIR/bus")
}

// Connect connects to Address, authenticated and with a unique name
// (Hello done).
func Connect(opts ...dbus.ConnOption) (*dbus.Conn, error) {
	addr, err := Address()
	if err != nil {
		return nil, err
	}
	conn, err := dbus.Connect(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the session bus at %s: %w", addr, err)
	}
	return conn, nil
}
