package sshmon_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshmon"
)

const fp = "ED25519 SHA256:n3Y0b6Kp6+fWq9m0Gf2PlgxQ2c3o7eHkzq1O2y9yTb4"

// monitor runs a Watcher for one test and collects what it emits.
type monitor struct {
	t      *testing.T
	w      *sshmon.Watcher
	events chan event.Event
}

func defaults() config.SSH {
	return config.SSH{HomeRoot: "/home", BruteForceThreshold: 5, BruteForceWindowSeconds: 600}
}

// start runs the monitor until the test ends (Run must then return nil
// promptly) and waits until it is Ready.
func start(t *testing.T, cfg config.SSH) *monitor {
	t.Helper()
	w, err := sshmon.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &monitor{t: t, w: w, events: make(chan event.Event, 10000)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, func(e event.Event) { m.events <- e }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return within 10 s of the cancellation")
		}
	})
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("Run returned before it was ready: %v", err)
	}
	return m
}

// next returns the next event that is not a MonitorStatus.
func (m *monitor) next() event.Event {
	m.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case e := <-m.events:
			if e.Type != event.MonitorStatus {
				return e
			}
		case <-deadline:
			m.t.Fatal("no event within 15 s")
		}
	}
}

// until returns the events up to and including the first that matches.
func (m *monitor) until(match func(event.Event) bool) []event.Event {
	m.t.Helper()
	var out []event.Event
	for {
		e := m.next()
		out = append(out, e)
		if match(e) {
			return out
		}
	}
}

func fromIP(ip string) func(event.Event) bool {
	return func(e event.Event) bool { return e.Metadata["remote_ip"] == ip }
}

func count(evs []event.Event, typ event.Type) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func describe(evs []event.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s %s %v", e.Type, e.Severity, e.Path, e.Metadata)
	}
	return b.String()
}
