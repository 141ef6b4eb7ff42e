// Package replaystore keeps the daemon's replay buffer across a restart,
// clean or not: every event is appended to a log in the state directory as
// it is published, and read back at start, so a client that reconnects with
// replay_after (or a notifier calling GetEventsAfter) gets what it missed
// while the daemon restarted — also after a crash or a watchdog kill.
//
// The log is two files: replay.jsonl, appended to, and replay.old.jsonl,
// the one before. When replay.jsonl holds as many events as the replay
// buffer, it becomes replay.old.jsonl and a new one starts, so the two
// always hold at least the newest buffer's worth and the disk use is
// bounded (twice the buffer). Lines are JSON lines, as the socket sends
// them; each batch of events is written with one write call, without fsync:
// a crashed process loses nothing it wrote (the page cache has it), only
// the events still in its queue; a power cut can lose the last seconds.
//
// What cannot be replayed is said, not skipped: the hub is told the last
// seq the log holds, and a replay that crosses the numbers a crashed run
// used without writing them gets an EventsDropped notice naming them.
package replaystore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
)

// File and OldFile are the log's two files in the state directory.
const (
	File    = "replay.jsonl"
	OldFile = "replay.old.jsonl"
)

// maxLine bounds one stored event; a longer line is skipped as damaged.
const maxLine = 1 << 20

// Load reads the events kept in dir, oldest first: replay.old.jsonl, then
// replay.jsonl. Missing files are no error. A last line cut short (a crash
// in the middle of a write) is dropped silently; other damaged lines are
// skipped and reported together in the error (file:line: why), with the good
// events still returned.
func Load(dir string) ([]event.Event, error) {
	var evs []event.Event
	var bad []error
	for _, name := range []string{OldFile, File} {
		got, err := load(filepath.Join(dir, name))
		evs = append(evs, got...)
		if err != nil {
			bad = append(bad, err)
		}
	}
	return evs, errors.Join(bad...)
}

func load(p string) ([]event.Event, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the kept events: %w", err)
	}
	var evs []event.Event
	var bad []error
	n := 0
	for len(b) > 0 {
		n++
		i := indexByte(b, '\n')
		if i < 0 {
			break // cut short by a crash: never written whole
		}
		line := b[:i]
		b = b[i+1:]
		if len(line) > maxLine {
			bad = append(bad, fmt.Errorf("%s:%d: %w", p, n, bufio.ErrTooLong))
			continue
		}
		var e event.Event
		if err := e.UnmarshalJSON(line); err != nil || e.Seq == 0 {
			if err == nil {
				err = errors.New("no seq")
			}
			bad = append(bad, fmt.Errorf("%s:%d: %w", p, n, err))
			continue
		}
		evs = append(evs, e)
	}
	return evs, errors.Join(bad...)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Log appends published events to dir's log. Run it as a hub subscriber.
type Log struct {
	dir   string
	limit int // events per file before it turns old
	log   *slog.Logger

	f     *os.File
	count int // events in f
}

// Open opens dir's log for appending, readable by the daemon's user only
// (events name programs and addresses); limit is the replay buffer's size.
// It continues the current file, counting what it already holds.
func Open(dir string, limit int, logger *slog.Logger) (*Log, error) {
	if limit <= 0 {
		limit = hub.DefaultRingSize
	}
	l := &Log{dir: dir, limit: limit, log: logger.With("component", "replaystore")}
	evs, _ := load(filepath.Join(dir, File))
	l.count = len(evs)
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	p := filepath.Join(l.dir, File)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("cannot keep the events for replay: %w", err)
	}
	// A line cut short by a crash must not swallow the next one.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if r, err := os.Open(p); err == nil {
			if _, err := r.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
				f.Write([]byte{'\n'})
			}
			r.Close()
		}
	}
	l.f = f
	return nil
}

// rotate makes the current file the old one and starts a new one.
func (l *Log) rotate() error {
	if err := l.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(l.dir, File), filepath.Join(l.dir, OldFile)); err != nil {
		return err
	}
	l.count = 0
	return l.open()
}

// Run writes sub's events until ctx ends, then what is still queued, and
// closes the file. A drop in its own queue (it fell behind) is logged: those
// events are not replayed after a restart.
func (l *Log) Run(ctx context.Context, sub *hub.Sub) error {
	defer l.f.Close()
	var buf, line []byte
	flush := func() {
		if len(buf) == 0 {
			return
		}
		if _, err := l.f.Write(buf); err != nil {
			l.log.Error("cannot keep events for replay", "err", err)
		}
		buf = buf[:0]
	}
	drain := func() {
		for {
			e, ok := sub.Pop()
			if !ok {
				break
			}
			if e.Seq == 0 {
				l.log.Error("fell behind: some events are not kept for replay", "notice", e.Description)
				continue
			}
			var err error
			if line, err = e.AppendJSONLine(line[:0]); err != nil {
				continue // an event that cannot be encoded was never sent either
			}
			buf = append(buf, line...)
			l.count++
			if l.count >= l.limit {
				flush()
				if err := l.rotate(); err != nil {
					l.log.Error("cannot start a new replay log", "err", err)
					return
				}
			}
		}
		flush()
	}
	for {
		select {
		case <-ctx.Done():
			drain()
			return nil
		case <-sub.Ready():
			drain()
		}
	}
}
