// Package replaystore keeps the daemon's replay buffer across a clean
// restart: the events are written to the state directory when the daemon
// stops and read back when it starts, so a client that reconnects with
// replay_after (or a notifier calling GetEventsAfter) gets what it missed
// while the daemon restarted, not an EventsDropped notice.
//
// After a crash the file is the one from the last clean stop: older events
// are still replayed, those since are not (the journal keeps them all).
package replaystore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pantheros/secmon/service/internal/atomicfile"
	"github.com/pantheros/secmon/service/internal/event"
)

// File is the name of the store in the state directory.
const File = "replay.jsonl"

// maxLine bounds one stored event; a longer line is skipped as damaged.
const maxLine = 1 << 20

// Load reads the events kept in dir, oldest first. A missing file is no
// error. Damaged lines are skipped and reported together in the error
// (file:line: why), with the good events still returned.
func Load(dir string) ([]event.Event, error) {
	p := filepath.Join(dir, File)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the kept events: %w", err)
	}
	defer f.Close()
	var evs []event.Event
	var bad []error
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		var e event.Event
		if err := e.UnmarshalJSON(sc.Bytes()); err != nil || e.Seq == 0 {
			if err == nil {
				err = errors.New("no seq")
			}
			bad = append(bad, fmt.Errorf("%s:%d: %w", p, n, err))
			continue
		}
		evs = append(evs, e)
	}
	if err := sc.Err(); err != nil {
		bad = append(bad, fmt.Errorf("%s:%d: %w", p, n+1, err))
	}
	return evs, errors.Join(bad...)
}

// Save writes evs to dir atomically (a crash leaves the old file or the new one),
// readable by the daemon's user only: events name programs and addresses.
func Save(dir string, evs []event.Event) error {
	var b bytes.Buffer
	var line []byte
	for _, e := range evs {
		var err error
		if line, err = e.AppendJSONLine(line[:0]); err != nil {
			continue // an event that cannot be encoded was never sent either
		}
		b.Write(line)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, File), b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("cannot keep the events for replay: %w", err)
	}
	return nil
}
