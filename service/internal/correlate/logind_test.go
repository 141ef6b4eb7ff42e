package correlate_test

import (
	"context"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/service/internal/correlate"
	"github.com/pantheros/secmon/service/internal/event"
)

// startLogind runs python3-dbusmock's logind template on a private
// system-like bus that has logind's own policy, and returns a connection.
func startLogind(t *testing.T) *dbus.Conn {
	t.Helper()
	return dbustest.StartLogind(t, "").Conn(t)
}

// What logind says decides whether someone is at this computer: asked of
// python3-dbusmock's logind through the real policy, step by step.
func TestIntegrationLogindAway(t *testing.T) {
	conn := startLogind(t)
	mock := conn.Object("org.freedesktop.login1", "/org/freedesktop/login1")
	call := func(obj dbus.BusObject, method string, args ...any) {
		t.Helper()
		if err := obj.Call(method, 0, args...).Err; err != nil {
			t.Fatalf("%s: %v", method, err)
		}
	}
	session := func(id string) dbus.BusObject {
		return conn.Object("org.freedesktop.login1", dbus.ObjectPath("/org/freedesktop/login1/session/"+id))
	}
	setProp := func(id, name string, v any) {
		t.Helper()
		call(session(id), "org.freedesktop.DBus.Mock.UpdateProperties", "org.freedesktop.login1.Session",
			map[string]dbus.Variant{name: dbus.MakeVariant(v)})
	}
	l := correlate.Logind{Conn: conn}
	steps := []struct {
		name   string
		do     func()
		away   bool
		reason string
	}{
		{"no session", func() {}, true, "nobody was logged in at this computer"},
		{"alice logs in at the seat", func() {
			call(mock, "org.freedesktop.DBus.Mock.AddSession", "c1", "seat0", uint32(1000), "alice", true)
		}, false, ""},
		{"her screen locks", func() { call(session("c1"), "org.freedesktop.login1.Session.SetLockedHint", true) }, true, "the screen was locked"},
		{"she unlocks", func() { call(session("c1"), "org.freedesktop.login1.Session.SetLockedHint", false) }, false, ""},
		{"she switches to a greeter: her session is not active", func() { setProp("c1", "Active", false) }, true, "no session at this computer was in use"},
		{"only an SSH session is left", func() {
			call(mock, "org.freedesktop.DBus.Mock.RemoveObject", dbus.ObjectPath("/org/freedesktop/login1/session/c1"))
			call(mock, "org.freedesktop.DBus.Mock.AddSession", "c2", "seat0", uint32(1000), "alice", true)
			setProp("c2", "Remote", true)
		}, true, "nobody was logged in at this computer"},
		{"a display manager's greeter is no user", func() {
			call(mock, "org.freedesktop.DBus.Mock.AddSession", "c3", "seat0", uint32(110), "lightdm", true)
			setProp("c3", "Class", "greeter")
		}, true, "nobody was logged in at this computer"},
	}
	for _, s := range steps {
		s.do()
		ctx, cancel := context.WithTimeout(context.Background(), dbustest.Timeout)
		away, why, err := l.Away(ctx)
		cancel()
		if err != nil || away != s.away || why != s.reason {
			t.Errorf("%s: Away = %v, %q, %v; want %v, %q", s.name, away, why, err, s.away, s.reason)
		}
	}

	// The rule with the real answer: the greeter is up, nobody is logged
	// in, a program opens the camera.
	c := correlate.New(correlate.DefaultConfig(), correlate.Options{Sessions: l})
	got := c.Observe(context.Background(), event.Event{Seq: 7, Time: time.Now(), Type: event.CameraAccess, Path: "/dev/video0",
		Process: &event.Process{PID: 990, Comm: "ffmpeg", Exe: "/usr/bin/ffmpeg", UID: 1000}})
	if len(got) != 1 || got[0].Metadata["rule"] != correlate.RuleAway || got[0].Metadata["members"] != "7" {
		t.Fatalf("camera while nobody is logged in: %+v", got)
	}
}

// Without logind on the bus the rule says nothing (and logs why), rather
// than calling everyone away.
func TestIntegrationLogindMissing(t *testing.T) {
	b := dbustest.StartSession(t)
	l := correlate.Logind{Conn: b.Conn(t)}
	ctx, cancel := context.WithTimeout(context.Background(), dbustest.Timeout)
	defer cancel()
	if away, _, err := l.Away(ctx); err == nil {
		t.Fatalf("no logind, and Away = %v without an error", away)
	}
	c := correlate.New(correlate.DefaultConfig(), correlate.Options{Sessions: l})
	if got := c.Observe(ctx, event.Event{Seq: 1, Time: time.Now(), Type: event.CameraAccess, Path: "/dev/video0"}); len(got) != 0 {
		t.Fatalf("no logind: %+v", got)
	}
}
