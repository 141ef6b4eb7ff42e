package dbussink_test

import (
	"context"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/service/internal/dbussink"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
)

// GetEventsAfter(after, 0) with 10,000 kept events of 4,000-byte paths
// (about 80 MB of text) would be far above the bus's message limit: the
// answer is bounded, and paging with the last seq got reaches every event.
func TestGetEventsAfterAnswersStayBelowTheMessageLimit(t *testing.T) {
	bus := dbustest.StartSession(t)
	h := hub.New(hub.Options{RingSize: 10000})
	long := "/" + strings.Repeat("d", 3990)
	for range 10000 {
		h.Publish(event.Event{Type: event.FileCreate, Severity: event.Medium, Path: long, Description: "Created " + long})
	}
	s := dbussink.New(h, dbussink.Options{BusName: "session", Connect: func(opts ...dbus.ConnOption) (*dbus.Conn, error) {
		return dbus.Connect(bus.Address(), opts...)
	}})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	// Run closes the connection when its context ends.
	sub := h.Subscribe(hub.SubOptions{Name: "dbus", Queue: 16})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, sub); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	obj := bus.Conn(t).Object(secmondbus.BusName, secmondbus.ObjectPath)
	var after uint64
	got, pages := 0, 0
	for {
		var evs []secmondbus.Event
		var last uint64
		if err := obj.Call(secmondbus.Interface+"."+secmondbus.MethodGetEventsAfter, 0, after, uint32(0)).Store(&evs, &last); err != nil {
			t.Fatalf("page %d after %d: %v", pages, after, err)
		}
		pages++
		if len(evs) == 0 || len(evs) > secmondbus.MaxReplyEvents {
			t.Fatalf("page %d holds %d events", pages, len(evs))
		}
		got += len(evs)
		after = evs[len(evs)-1].Seq
		if after == last {
			break
		}
	}
	if got != 10000 || pages < 10000*4000/secmondbus.MaxReplyBytes {
		t.Fatalf("%d events in %d pages, want 10000 in at least %d", got, pages, 10000*4000/secmondbus.MaxReplyBytes)
	}
}
