// Package sdlog writes log/slog records as text lines that systemd's
// journal stores with their priority: when standard error is the journal
// stream systemd connected (JOURNAL_STREAM names its device and inode),
// each line starts with the record's syslog priority in the "<N>" form of
// sd-daemon(3), so `journalctl -p err -u secmon` shows the errors. Elsewhere
// (a terminal, a pipe, a test's buffer) the lines are unchanged.
//
// The notifier has a copy, byte for byte, in notifier/internal/sdlog (it may
// not import service/internal); a test keeps the two identical.
package sdlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// Syslog priorities (sd-daemon(3), syslog(3)).
const (
	Err     = 3
	Warning = 4
	Info    = 6
	Debug   = 7
)

// Priority maps a slog level to a syslog priority.
func Priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return Err
	case l >= slog.LevelWarn:
		return Warning
	case l >= slog.LevelInfo:
		return Info
	}
	return Debug
}

// IsJournal says whether w is the stream systemd connected to the journal:
// an *os.File whose device and inode are those JOURNAL_STREAM names.
func IsJournal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	var dev, ino uint64
	if _, err := fmt.Sscanf(os.Getenv("JOURNAL_STREAM"), "%d:%d", &dev, &ino); err != nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && st.Ino == ino
}

// Prefix is what a line at priority p written to w starts with: "<p>" on
// the journal stream, nothing elsewhere.
func Prefix(w io.Writer, p int) string {
	if IsJournal(w) {
		return fmt.Sprintf("<%d>", p)
	}
	return ""
}

// NewHandler returns slog's text handler on w, with each line prefixed by
// its priority when w is the journal stream.
func NewHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	if !IsJournal(w) {
		return slog.NewTextHandler(w, opts)
	}
	pw := &prefixWriter{w: w}
	return &handler{inner: slog.NewTextHandler(pw, opts), pw: pw}
}

// prefixWriter puts the current record's priority before the one Write
// slog's text handler makes per record.
type prefixWriter struct {
	mu  sync.Mutex // held by handler.Handle around the inner Handle
	w   io.Writer
	pri int
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	line := make([]byte, 0, len(b)+3)
	line = append(line, '<', byte('0'+p.pri), '>')
	if _, err := p.w.Write(append(line, b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

type handler struct {
	inner slog.Handler
	pw    *prefixWriter
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	h.pw.mu.Lock()
	defer h.pw.mu.Unlock()
	h.pw.pri = Priority(r.Level)
	return h.inner.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{inner: h.inner.WithAttrs(as), pw: h.pw}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name), pw: h.pw}
}
