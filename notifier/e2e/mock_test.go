package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/dbus/testutil"
)

const (
	notifName  = "org.freedesktop.Notifications"
	notifPath  = "/org/freedesktop/Notifications"
	mockIface  = "org.freedesktop.DBus.Mock"
	notifIface = "org.freedesktop.Notifications"
)

// mock is python3-dbusmock's notification_daemon on the session bus.
type mock struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *testutil.LockedBuffer
	done chan struct{}
	conn *dbus.Conn
}

func startMock(t *testing.T, b *dbustest.Bus) *mock {
	t.Helper()
	m := &mock{t: t, out: &testutil.LockedBuffer{}, done: make(chan struct{}), conn: b.Conn(t)}
	m.cmd = exec.Command("/usr/bin/python3", "-m", "dbusmock", "--session", "-t", "notification_daemon")
	m.cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+b.Address())
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.cmd.Wait(); close(m.done) }()
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("dbusmock output:\n%s", m.out.String())
		}
	})
	testutil.WaitFor(t, wait, "dbusmock owns "+notifName, func() bool {
		select {
		case <-m.done:
			t.Fatalf("dbusmock exited:\n%s", m.out.String())
		default:
		}
		var has bool
		m.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, notifName).Store(&has)
		return has
	})
	return m
}

// stop ends the mock (SIGTERM, then wait) and waits for its name to go.
func (m *mock) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(wait):
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
}

// notifyCall is one Notify call the mock received.
type notifyCall struct {
	AppName    string
	ReplacesID uint32
	Icon       string
	Summary    string
	Body       string
	Actions    []string
	Hints      map[string]dbus.Variant
	Timeout    int32
	// ID is what the mock answered: it counts new notifications from 1.
	ID uint32
}

func (c notifyCall) urgency() (byte, bool) {
	v, ok := c.Hints["urgency"]
	if !ok {
		return 0, false
	}
	b, ok := v.Value().(byte)
	return b, ok
}

func (c notifyCall) hint(name string) string {
	s, _ := c.Hints[name].Value().(string)
	return s
}

// calls returns every Notify call so far, in order.
func (m *mock) calls() []notifyCall {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var raw []struct {
		Time uint64
		Args []dbus.Variant
	}
	if err := m.conn.Object(notifName, notifPath).CallWithContext(ctx, mockIface+".GetMethodCalls", 0, "Notify").Store(&raw); err != nil {
		m.t.Fatalf("GetMethodCalls: %v", err)
	}
	var out []notifyCall
	next := uint32(1)
	for _, r := range raw {
		if len(r.Args) != 8 {
			m.t.Fatalf("Notify call with %d arguments", len(r.Args))
		}
		var c notifyCall
		var ok [8]bool
		c.AppName, ok[0] = r.Args[0].Value().(string)
		c.ReplacesID, ok[1] = r.Args[1].Value().(uint32)
		c.Icon, ok[2] = r.Args[2].Value().(string)
		c.Summary, ok[3] = r.Args[3].Value().(string)
		c.Body, ok[4] = r.Args[4].Value().(string)
		c.Actions, ok[5] = r.Args[5].Value().([]string)
		c.Hints, ok[6] = r.Args[6].Value().(map[string]dbus.Variant)
		c.Timeout, ok[7] = r.Args[7].Value().(int32)
		for i, good := range ok {
			if !good {
				m.t.Fatalf("Notify argument %d is %s", i, r.Args[i].Signature())
			}
		}
		// The template answers replaces_id when given, else the next id.
		if c.ReplacesID != 0 {
			c.ID = c.ReplacesID
		} else {
			c.ID = next
			next++
		}
		out = append(out, c)
	}
	return out
}

// waitCall waits for a Notify call matching match and returns it.
func (m *mock) waitCall(what string, match func(notifyCall) bool) notifyCall {
	m.t.Helper()
	var got notifyCall
	testutil.WaitFor(m.t, wait, "a Notify call: "+what, func() bool {
		for _, c := range m.calls() {
			if match(c) {
				got = c
				return true
			}
		}
		return false
	})
	return got
}

// invoke emits ActionInvoked(id, key) from the mock, with the exact
// signature the spec (and esiqveland/notify) expects.
func (m *mock) invoke(id uint32, key string) {
	m.t.Helper()
	err := m.conn.Object(notifName, notifPath).Call(mockIface+".EmitSignal", 0,
		notifIface, "ActionInvoked", "us", []any{id, key}).Err
	if err != nil {
		m.t.Fatalf("EmitSignal ActionInvoked: %v", err)
	}
}

func (m *mock) emit(member, sig string, args ...any) {
	m.t.Helper()
	if err := m.conn.Object(notifName, notifPath).Call(mockIface+".EmitSignal", 0, notifIface, member, sig, args).Err; err != nil {
		m.t.Fatalf("EmitSignal %s: %v", member, err)
	}
}

func summaries(cs []notifyCall) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("\n  ")
		b.WriteString(c.Summary + " | " + strings.ReplaceAll(c.Body, "\n", " / "))
	}
	return b.String()
}
