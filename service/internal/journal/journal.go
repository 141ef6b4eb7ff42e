// Package journal is secmon's journal sink: it writes every event to the
// systemd journal as one entry with structured fields (see [Fields]), using
// go-systemd's client for the journal native protocol
// (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/).
//
// When no journal is listening (a container, a machine without systemd),
// the sink writes each event as one JSON line to a fallback writer instead,
// so that the events still end up in whatever collects the daemon's stderr.
//
// A write that fails is counted and logged, but never stops the sink: the
// journal is one sink among several, and a flood of identical errors would
// only bury the first one, so failures are logged at most once a minute,
// with the number left unlogged in between.
package journal

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
)

// logInterval is the shortest time between two log records about failed
// writes.
const logInterval = time.Minute

// Sink writes events to the journal, or to its fallback writer.
type Sink struct {
	log        *slog.Logger
	fallback   io.Writer
	buf        []byte // the fallback's batch, reused
	useJournal bool
	send       func(message string, priority journal.Priority, vars map[string]string) error
	now        func() time.Time

	failed atomic.Uint64

	// Only Run's goroutine touches these.
	lastLogged time.Time
	unlogged   uint64
	lastErr    error
}

// New returns a sink; if the journal is not reachable (journal.Enabled()
// false) it writes each event as one JSON line to fallback (os.Stderr in
// production) instead.
func New(logger *slog.Logger, fallback io.Writer) *Sink {
	return newSink(logger, fallback, journal.Enabled(), journal.Send, time.Now)
}

func newSink(logger *slog.Logger, fallback io.Writer, useJournal bool,
	send func(string, journal.Priority, map[string]string) error, now func() time.Time) *Sink {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sink{
		log:        logger.With("component", "journal"),
		fallback:   fallback,
		useJournal: useJournal,
		send:       send,
		now:        now,
	}
	if useJournal {
		s.log.Debug("writing events to the journal")
	} else {
		s.log.Debug("journal not reachable, writing events as JSON lines to the fallback")
	}
	return s
}

// UsingJournal reports whether events go to the journal rather than to the
// fallback writer.
func (s *Sink) UsingJournal() bool { return s.useJournal }

// Run consumes sub until ctx ends (nil on cancellation). A failed send is
// logged (rate-limited, not per event) and counted, never fatal. Run must
// not be called more than once at a time.
func (s *Sink) Run(ctx context.Context, sub *hub.Sub) error {
	defer s.logUnlogged()
	for {
		e, err := sub.Next(ctx)
		if err != nil {
			// Next fails only when ctx ends, which is a normal stop.
			return nil
		}
		if !s.useJournal {
			s.writeLines(e, sub)
			continue
		}
		if err := s.write(e); err != nil {
			s.fail(err)
		}
	}
}

// pipeBuf is what one write to a pipe keeps whole (PIPE_BUF): the
// fallback's lines are written in batches up to it, never a line split,
// so that lines from other writers to the same stderr cannot cut one.
const pipeBuf = 4096

// writeLines writes e and what else is queued as JSON lines, with as few
// writes as whole lines allow.
func (s *Sink) writeLines(e event.Event, sub *hub.Sub) {
	buf := s.buf[:0]
	flush := func() {
		if len(buf) > 0 {
			if _, err := s.fallback.Write(buf); err != nil {
				s.fail(err)
			}
			buf = buf[:0]
		}
	}
	for {
		n := len(buf)
		var err error
		if buf, err = e.AppendJSONLine(buf); err != nil {
			s.fail(err)
		} else if len(buf) > pipeBuf && n > 0 {
			// The line would push the batch past a pipe's atomic
			// write: send what came before it, keep the line.
			line := append([]byte(nil), buf[n:]...)
			buf = buf[:n]
			flush()
			buf = append(buf, line...)
		}
		var ok bool
		if e, ok = sub.Pop(); !ok {
			break
		}
	}
	flush()
	s.buf = buf
}

func (s *Sink) write(e event.Event) error {
	vars := Fields(e)
	msg := vars["MESSAGE"]
	// go-systemd writes MESSAGE and PRIORITY itself; leaving them in vars
	// would send each twice.
	delete(vars, "MESSAGE")
	delete(vars, "PRIORITY")
	return s.send(msg, journal.Priority(e.Severity.JournalPriority()), vars)
}

func (s *Sink) fail(err error) {
	total := s.failed.Add(1)
	now := s.now()
	if !s.lastLogged.IsZero() && now.Sub(s.lastLogged) < logInterval {
		s.unlogged++
		s.lastErr = err
		return
	}
	s.log.Error(s.failMessage(), "err", err, "failed_total", total, "unlogged", s.unlogged)
	s.lastLogged = now
	s.unlogged = 0
	s.lastErr = nil
}

// logUnlogged reports failures still waiting for their interval, so that
// none goes unmentioned when the sink stops.
func (s *Sink) logUnlogged() {
	if s.unlogged == 0 {
		return
	}
	s.log.Error(s.failMessage(), "err", s.lastErr, "failed_total", s.failed.Load(), "unlogged", s.unlogged)
	s.lastLogged = s.now()
	s.unlogged = 0
	s.lastErr = nil
}

func (s *Sink) failMessage() string {
	if s.useJournal {
		return "cannot send event to the journal"
	}
	return "cannot write event to the fallback"
}
