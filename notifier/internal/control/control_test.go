package control_test

import (
	"context"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/notifier/internal/control"
)

func TestUnmuteReachesTheRunningNotifier(t *testing.T) {
	bus := dbustest.StartSession(t)
	o := control.Options{Connect: func(opts ...dbus.ConnOption) (*dbus.Conn, error) { return dbus.Connect(bus.Address(), opts...) }}
	ctx, cancel := context.WithTimeout(context.Background(), dbustest.Timeout)
	defer cancel()

	if _, err := control.Unmute(ctx, o); err == nil || !strings.Contains(err.Error(), "no secmon-notifier runs") {
		t.Fatalf("without a notifier: %v", err)
	}

	reqs := make(chan control.Request)
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { control.Serve(sctx, o, reqs); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	go func() {
		for r := range reqs {
			r.Reply <- "ended 2 mutes"
		}
	}()
	conn := bus.Conn(t)
	testutil.WaitFor(t, dbustest.Timeout, "the notifier owns its name", func() bool {
		var has bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, control.Name).Store(&has)
		return has
	})
	got, err := control.Unmute(ctx, o)
	if err != nil || got != "ended 2 mutes" {
		t.Fatalf("Unmute = %q, %v", got, err)
	}
}
