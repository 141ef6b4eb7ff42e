package fswatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/fswatch"
)

// waitTimeout is generous: the machine may be busy, and nothing waits for
// it unless something is wrong.
const waitTimeout = 20 * time.Second

// harness runs a Watcher and collects what it emits. Every harness has an
// extra watch on a sentinel directory: settle creates a file there and
// waits for it, and since all watches share one inotify queue, every event
// caused before that has been handled by then.
type harness struct {
	t        *testing.T
	sentinel string
	ch       chan event.Event
	got      []event.Event // everything but the sentinel's events
	signals  map[string]bool
	n        int
}

type options struct {
	clock  func() time.Time
	onEmit func(event.Event) // called on Run's goroutine
	guests []fswatch.Guest
	rules  []fswatch.Rule
	// status keeps the monitor's own start-up MonitorStatus in got.
	status bool
}

func start(t *testing.T, watches ...config.Watch) *harness {
	t.Helper()
	return startWith(t, options{}, watches...)
}

func startWith(t *testing.T, o options, watches ...config.Watch) *harness {
	t.Helper()
	h := &harness{t: t, sentinel: filepath.Join(t.TempDir(), "sentinel"),
		ch: make(chan event.Event, 1<<16), signals: map[string]bool{}}
	if err := os.Mkdir(h.sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	watches = append([]config.Watch{{Path: h.sentinel, Description: "sentinel"}}, watches...)
	w, err := fswatch.New(fswatch.Config{Watches: watches, Guests: o.guests, Rules: o.rules}, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if o.clock != nil {
		fswatch.SetClock(w, o.clock)
	}
	ready := w.Ready()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func(e event.Event) {
			if _, _, _, ok := event.StatusOf(e); ok && e.Path == "" && !o.status {
				return // the monitor's own start-up status
			}
			if o.onEmit != nil {
				o.onEmit(e)
			}
			h.ch <- e
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("Run did not get ready")
	}
	return h
}

func (h *harness) add(e event.Event) {
	if strings.HasPrefix(e.Path, h.sentinel+"/") {
		h.signals[e.Path] = true
		return
	}
	h.got = append(h.got, e)
}

// waitFor reads events until cond holds for all events so far.
func (h *harness) waitFor(what string, cond func([]event.Event) bool) []event.Event {
	h.t.Helper()
	deadline := time.After(waitTimeout)
	for !cond(h.got) {
		select {
		case e := <-h.ch:
			h.add(e)
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; got:\n%s", what, dump(h.got))
		}
	}
	return h.got
}

// waitN waits until n events have arrived in all.
func (h *harness) waitN(n int) []event.Event {
	h.t.Helper()
	return h.waitFor(fmt.Sprintf("%d events", n), func(evs []event.Event) bool { return len(evs) >= n })
}

// waitEvent waits for an event of type typ on path.
func (h *harness) waitEvent(typ event.Type, path string) event.Event {
	h.t.Helper()
	var found event.Event
	checked := 0
	h.waitFor(string(typ)+" "+path, func(evs []event.Event) bool {
		for _, e := range evs[checked:] {
			checked++
			if e.Type == typ && e.Path == path {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// settle returns every event caused so far.
func (h *harness) settle() []event.Event {
	h.t.Helper()
	h.n++
	name := filepath.Join(h.sentinel, fmt.Sprintf("s%d", h.n))
	writeFile(h.t, name)
	h.waitFor("the sentinel "+name, func([]event.Event) bool { return h.signals[name] })
	return h.got
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("x\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func mkdirAll(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// creations counts, per path, the events that report it created.
func creations(evs []event.Event) map[string]int {
	n := map[string]int{}
	for _, e := range evs {
		if e.Metadata["op"] == "CREATE" {
			n[e.Path]++
		}
	}
	return n
}

func dump(evs []event.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\t%s %s %s %v\n", e.Type, e.Severity, e.Path, e.Metadata)
	}
	return b.String()
}
