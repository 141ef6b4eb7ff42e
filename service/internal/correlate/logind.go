package correlate

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// Sessions says whether anyone is at this computer.
type Sessions interface {
	// Away is true when nobody is: then why says so in words ("the
	// screen was locked", "nobody was logged in at this computer").
	Away(ctx context.Context) (away bool, why string, err error)
}

// Logind asks systemd-logind on a bus connection (the system bus) about
// its sessions: someone is at this computer when a local user session
// (class user, not remote) is active and not locked (LockedHint, which
// screen lockers set). Remote sessions (SSH) are nobody at the computer.
type Logind struct {
	Conn *dbus.Conn
}

const (
	login1        = "org.freedesktop.login1"
	login1Path    = "/org/freedesktop/login1"
	login1Manager = "org.freedesktop.login1.Manager"
	login1Session = "org.freedesktop.login1.Session"
)

// Away implements Sessions.
func (l Logind) Away(ctx context.Context) (bool, string, error) {
	var list []struct {
		ID   string
		UID  uint32
		User string
		Seat string
		Path dbus.ObjectPath
	}
	if err := l.Conn.Object(login1, login1Path).CallWithContext(ctx, login1Manager+".ListSessions", 0).Store(&list); err != nil {
		return false, "", fmt.Errorf("cannot list logind's sessions: %w", err)
	}
	local, locked := 0, 0
	for _, s := range list {
		var props map[string]dbus.Variant
		err := l.Conn.Object(login1, s.Path).CallWithContext(ctx, "org.freedesktop.DBus.Properties.GetAll", 0, login1Session).Store(&props)
		if err != nil {
			// A session that ended between the two calls.
			continue
		}
		str := func(k string) string { v, _ := props[k].Value().(string); return v }
		flag := func(k string) bool { v, _ := props[k].Value().(bool); return v }
		if str("Class") != "user" || flag("Remote") {
			continue
		}
		local++
		switch {
		case flag("LockedHint"):
			locked++
		case flag("Active"):
			return false, "", nil
		}
	}
	if local == 0 {
		return true, "nobody was logged in at this computer", nil
	}
	if locked > 0 {
		return true, "the screen was locked", nil
	}
	return true, "no session at this computer was in use", nil
}
