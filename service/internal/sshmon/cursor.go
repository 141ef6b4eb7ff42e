//go:build cgo

package sshmon

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/sdjournal"

	"github.com/pantheros/secmon/service/internal/atomicfile"
	"github.com/pantheros/secmon/service/internal/event"
)

// CursorFile keeps, in the state directory, the journal cursor of the last
// sshd entry the monitor read.
const CursorFile = "ssh-journal-cursor"

// maxCatchUp bounds what is read at start from where the last run
// stopped: beyond it the rest is skipped and said.
const maxCatchUp = 10000

// saveEvery bounds how often the cursor is written while entries come.
const saveEvery = 5 * time.Second

// seekCursor places j after the entry the last run read last, and says
// whether it did. A cursor the journal no longer has (rotated away) starts
// at the oldest entry kept, which Next then reads.
func (w *Watcher) seekCursor(j *sdjournal.Journal) bool {
	if w.cursorPath == "" {
		return false
	}
	b, err := os.ReadFile(w.cursorPath)
	c := strings.TrimSpace(string(b))
	if err != nil || c == "" {
		return false
	}
	if err := j.SeekCursor(c); err != nil {
		w.log.Warn("cannot resume the journal where the last run stopped; following from now", "err", err)
		return false
	}
	// SeekCursor leaves no current entry: the next Next returns the
	// cursor's own entry when it still exists, which was read already.
	if n, err := j.Next(); err != nil || n == 0 {
		return false
	}
	if j.TestCursor(c) != nil {
		// Gone: the first entry kept is new to us. Step back, so the
		// loop's Next reads it.
		j.Previous()
	}
	w.cursor = c
	return true
}

// saveCursor writes the cursor of the current entry, at most every
// saveEvery unless final (at stop).
func (w *Watcher) saveCursor(j *sdjournal.Journal, final bool) {
	if w.cursorPath == "" {
		return
	}
	c, err := j.GetCursor()
	if err != nil || c == "" || c == w.cursor {
		return
	}
	if now := time.Now(); !final && now.Sub(w.cursorSaved) < saveEvery {
		return
	} else {
		w.cursorSaved = now
	}
	if err := atomicfile.WriteFile(w.cursorPath, []byte(c+"\n"), 0o600); err != nil {
		w.log.Warn("cannot keep the journal cursor: a restart will not read what sshd logged meanwhile", "err", err)
		return
	}
	w.cursor = c
}

// skippedCatchUp gives up reading the backlog: too much was logged while
// secmon was not running. It goes to the end and says so.
func (w *Watcher) skippedCatchUp(j *sdjournal.Journal) {
	if err := w.seekEnd(j); err != nil {
		w.log.Warn("cannot skip to the end of the journal", "err", err)
	}
	w.emit(event.Status("ssh", event.Degraded, event.Medium, fmt.Sprintf(
		"more than %d sshd entries were logged while secmon was not running: the first %d were read, the rest skipped (journalctl -u ssh has them)",
		maxCatchUp, maxCatchUp)))
}
