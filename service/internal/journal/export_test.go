package journal

import (
	"io"
	"log/slog"
	"time"

	sdjournal "github.com/coreos/go-systemd/v22/journal"
)

// LogInterval lets tests step a fake clock across the rate limit.
const LogInterval = logInterval

// NewWithSender is New with the journal's presence, its Send and the clock
// replaced, so that tests can make every send fail on cue.
func NewWithSender(logger *slog.Logger, fallback io.Writer, useJournal bool,
	send func(string, sdjournal.Priority, map[string]string) error, now func() time.Time) *Sink {
	return newSink(logger, fallback, useJournal, send, now)
}

// Failed is how many events could not be written, in all.
func (s *Sink) Failed() uint64 { return s.failed.Load() }
