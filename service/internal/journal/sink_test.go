package journal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	sdjournal "github.com/coreos/go-systemd/v22/journal"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/journal"
)

// wait bounds every wait for another goroutine or process.
const wait = 10 * time.Second

// record is a log record flattened for comparison; attrs include those
// added with Logger.With.
type record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// recorder is a slog.Handler that keeps records at Warn and above and, if
// notify is set, also sends them there.
type recorder struct {
	mu     *sync.Mutex
	recs   *[]record
	notify chan<- record
	attrs  []slog.Attr
}

func newRecorder(notify chan<- record) *recorder {
	return &recorder{mu: new(sync.Mutex), recs: new([]record), notify: notify}
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	out := record{Level: rec.Level, Msg: rec.Message, Attrs: map[string]string{}}
	for _, a := range r.attrs {
		out.Attrs[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		out.Attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	*r.recs = append(*r.recs, out)
	r.mu.Unlock()
	if r.notify != nil {
		r.notify <- out
	}
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(append([]slog.Attr(nil), r.attrs...), as...)
	return &c
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

func (r *recorder) records() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), *r.recs...)
}

// writes hands every Write to the test, one call per element.
type writes chan []byte

func (w writes) Write(p []byte) (int, error) {
	w <- bytes.Clone(p)
	return len(p), nil
}

// startSink runs s on a fresh subscription of h and returns a function
// that stops it and returns Run's result.
func startSink(t *testing.T, s *journal.Sink, h *hub.Hub) (stop func() error) {
	t.Helper()
	sub := h.Subscribe(hub.SubOptions{Name: "journal"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, sub) }()
	stopped := false
	var result error
	stop = func() error {
		if stopped {
			return result
		}
		stopped = true
		cancel()
		select {
		case result = <-done:
		case <-time.After(wait):
			t.Fatalf("Run did not return within %v of cancellation", wait)
		}
		h.Unsubscribe(sub)
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func fixedHub() *hub.Hub {
	t0 := time.Date(2025, 9, 25, 14, 30, 45, 123456789, time.UTC)
	return hub.New(hub.Options{Now: func() time.Time { return t0 }})
}

// Without a journal, events go to the fallback as JSON lines, batched into
// as few writes as whole lines allow: a write never splits a line, and
// holds at most 4,096 bytes (PIPE_BUF, what a pipe keeps whole against
// other writers) unless it is one longer line.
func TestFallbackWritesWholeJSONLines(t *testing.T) {
	w := make(writes, 1024)
	s := journal.New(slog.New(newRecorder(nil)), w)
	if s.UsingJournal() {
		t.Skip("a journal is listening on /run/systemd/journal/socket, so the fallback is not used")
	}
	h := fixedHub()
	stop := startSink(t, s, h)
	published := []event.Event{
		h.Publish(event.Event{
			Type: event.CameraAccess, Path: "/dev/video0", Description: "firefox opened /dev/video0",
			Metadata: map[string]string{"mask": "OPEN"},
			Process:  &event.Process{PID: 4242, Comm: "firefox", Exe: "/usr/bin/firefox", UID: 1000, User: "alice"},
		}),
		h.Publish(event.Event{Type: event.CustomMessage, Description: "two\nlines"}),
		h.Publish(event.Event{Type: event.CustomMessage, Description: strings.Repeat("long ", 2000)}),
	}
	for i := range 200 {
		published = append(published, h.Publish(event.Event{Type: event.FileCreate, Path: fmt.Sprintf("/tmp/f%03d", i)}))
	}
	var want []byte
	for _, e := range published {
		line, err := e.AppendJSONLine(nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, line...)
	}
	var got []byte
	for len(got) < len(want) {
		select {
		case b := <-w:
			if b[len(b)-1] != '\n' {
				t.Fatalf("a write ends inside a line: %q", b[max(0, len(b)-40):])
			}
			if len(b) > 4096 && bytes.Count(b, []byte{'\n'}) > 1 {
				t.Errorf("a write of %d bytes holds %d lines: more than a pipe keeps whole", len(b), bytes.Count(b, []byte{'\n'}))
			}
			got = append(got, b...)
		case <-time.After(wait):
			t.Fatalf("after %d of %d bytes, no fallback write within %v", len(got), len(want), wait)
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("fallback lines differ from the events' JSON lines:\ngot  %.300q\nwant %.300q", got, want)
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil after cancellation", err)
	}
	if n := s.Failed(); n != 0 {
		t.Errorf("Failed() = %d, want 0", n)
	}
}

type sendCall struct {
	msg  string
	prio sdjournal.Priority
	vars map[string]string
}

func TestSendGetsMessageAndPrioritySeparately(t *testing.T) {
	calls := make(chan sendCall, 1)
	send := func(msg string, prio sdjournal.Priority, vars map[string]string) error {
		calls <- sendCall{msg, prio, maps.Clone(vars)}
		return nil
	}
	s := journal.NewWithSender(nil, nil, true, send, time.Now)
	if !s.UsingJournal() {
		t.Fatal("UsingJournal() = false for a sink built with a journal")
	}
	h := fixedHub()
	stop := startSink(t, s, h)
	e := h.Publish(event.Event{Type: event.SshBruteForce, Description: "203.0.113.9 failed 12 times",
		Metadata: map[string]string{"remote_ip": "203.0.113.9", "count": "12"}})
	var c sendCall
	select {
	case c = <-calls:
	case <-time.After(wait):
		t.Fatalf("no send within %v", wait)
	}
	if c.msg != "203.0.113.9 failed 12 times" || c.prio != sdjournal.PriErr {
		t.Errorf("send(%q, %d, …), want (%q, %d, …)", c.msg, c.prio, "203.0.113.9 failed 12 times", sdjournal.PriErr)
	}
	want := map[string]string{
		"SYSLOG_IDENTIFIER":     "secmon",
		"MESSAGE_ID":            "d59886fc9ada4538b1fc7d7821167376",
		"SECMON_EVENT_TYPE":     "SshBruteForce",
		"SECMON_SEVERITY":       "High",
		"SECMON_SEQ":            "1",
		"SECMON_TIMESTAMP":      "2025-09-25T14:30:45.123Z",
		"SECMON_META_REMOTE_IP": "203.0.113.9",
		"SECMON_META_COUNT":     "12",
	}
	if !maps.Equal(c.vars, want) {
		t.Errorf("vars for event %d:\ngot  %v\nwant %v", e.Seq, c.vars, want)
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestFailuresAreCountedAndLoggedAtMostOncePerInterval steps a fake clock
// through a burst of failed sends.
func TestFailuresAreCountedAndLoggedAtMostOncePerInterval(t *testing.T) {
	t0 := time.Date(2025, 9, 25, 14, 0, 0, 0, time.UTC)
	// One reading of the clock per failure, and one when Run stops.
	clock := []time.Time{
		t0,                  // 1: logged
		t0.Add(time.Second), // 2: within the interval
		t0.Add(journal.LogInterval - time.Nanosecond), // 3: still within
		t0.Add(journal.LogInterval),                   // 4: logged, with 2 unlogged
		t0.Add(journal.LogInterval + time.Second),     // 5: within the new interval
		t0.Add(journal.LogInterval + 2*time.Second),   // Run stops: 1 unlogged
	}
	now := func() time.Time {
		if len(clock) == 0 {
			t.Error("clock read more often than expected")
			return t0
		}
		c := clock[0]
		clock = clock[1:]
		return c
	}
	sendErr := errors.New("journal on fire")
	sent := make(chan struct{})
	send := func(string, sdjournal.Priority, map[string]string) error {
		sent <- struct{}{}
		return sendErr
	}
	rec := newRecorder(nil)
	s := journal.NewWithSender(slog.New(rec), nil, true, send, now)
	h := fixedHub()
	stop := startSink(t, s, h)
	for i := range 5 {
		h.Publish(event.Event{Type: event.CustomMessage, Description: "x"})
		select {
		case <-sent:
		case <-time.After(wait):
			t.Fatalf("send %d did not happen within %v", i+1, wait)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil: a failed send is not fatal", err)
	}
	if n := s.Failed(); n != 5 {
		t.Errorf("Failed() = %d, want 5", n)
	}
	if len(clock) != 0 {
		t.Errorf("clock read %d times fewer than expected", len(clock))
	}
	rec1 := func(total, unlogged string) record {
		return record{Level: slog.LevelError, Msg: "cannot send event to the journal", Attrs: map[string]string{
			"component": "journal", "err": "journal on fire", "failed_total": total, "unlogged": unlogged,
		}}
	}
	want := []record{rec1("1", "0"), rec1("4", "2"), rec1("5", "1")}
	got := rec.records()
	if len(got) != len(want) {
		t.Fatalf("got %d log records, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Level != want[i].Level || got[i].Msg != want[i].Msg || !maps.Equal(got[i].Attrs, want[i].Attrs) {
			t.Errorf("record %d:\ngot  %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

type failingWriter struct{ called chan<- struct{} }

func (w failingWriter) Write([]byte) (int, error) {
	w.called <- struct{}{}
	return 0, errors.New("stderr is gone")
}

func TestFallbackWriteFailureIsLoggedNotFatal(t *testing.T) {
	called := make(chan struct{})
	rec := newRecorder(nil)
	s := journal.NewWithSender(slog.New(rec), failingWriter{called}, false, nil, time.Now)
	h := fixedHub()
	stop := startSink(t, s, h)
	for i := range 3 {
		h.Publish(event.Event{Type: event.CustomMessage, Description: "x"})
		select {
		case <-called:
		case <-time.After(wait):
			t.Fatalf("write %d did not happen within %v", i+1, wait)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if n := s.Failed(); n != 3 {
		t.Errorf("Failed() = %d, want 3", n)
	}
	// The first failure is logged at once; the other two, within the
	// interval, are summed up when Run stops.
	got := rec.records()
	if len(got) != 2 {
		t.Fatalf("got %d log records, want 2: %+v", len(got), got)
	}
	for i, unlogged := range []string{"0", "2"} {
		r := got[i]
		if r.Msg != "cannot write event to the fallback" || r.Attrs["err"] != "stderr is gone" ||
			r.Attrs["unlogged"] != unlogged || r.Attrs["component"] != "journal" {
			t.Errorf("record %d = %+v", i, r)
		}
	}
}
