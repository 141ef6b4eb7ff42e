package sshmon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/inotify"
	"github.com/pantheros/secmon/service/internal/sshlog"
)

// maxLine bounds a line kept while its end has not been written yet.
const maxLine = 64 << 10

// followFile tails the auth log with inotify, from its end:
//
//   - its directory is watched for the name coming and going only
//     (IN_CREATE, IN_MOVED_TO, IN_MOVED_FROM, IN_DELETE), so other logs in
//     /var/log being written never wake it;
//   - the open file is watched for IN_MODIFY (a write, or a truncation:
//     "copytruncate" rotation, after which it is read from the start);
//   - a file renamed away (logrotate's default) stays open and is read
//     until the next rotation or until it is deleted, because syslog writes
//     into it until it is told to reopen; the new file is read from its
//     start, so no line is lost or read twice.
//
// A truncation followed at once by more writes than were there before looks
// like an append and is missed: inotify does not tell the two apart.
func (w *Watcher) followFile(ctx context.Context, ready func()) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("cannot start inotify: %w", err)
	}
	in := os.NewFile(uintptr(fd), "inotify")
	defer in.Close()
	dir, base := filepath.Dir(w.authLog), filepath.Base(w.authLog)
	dirWD, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_MOVED_FROM|unix.IN_DELETE|
		unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_ONLYDIR)
	if err != nil {
		return fmt.Errorf("cannot watch %s for %s: %w", dir, base, err)
	}
	t := &tailer{path: w.authLog, ino: fd, line: w.authLine}
	defer t.close()
	if err := t.open(true); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	w.log.Debug("following", "file", w.authLog, "exists", t.cur != nil)
	w.missing = t.cur == nil
	ready()

	stop := context.AfterFunc(ctx, func() { in.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, inotify.ReadSize)
	for {
		n, err := in.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cannot read inotify events: %w", err)
		}
		evs, err := inotify.Parse(buf[:n])
		if err != nil {
			return fmt.Errorf("cannot read inotify events: %w", err)
		}
		for _, ev := range evs {
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				w.log.Warn("inotify queue overflowed; checking the auth log again", "file", w.authLog)
				t.resync()
			case int(ev.WD) == dirWD && ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
				return fmt.Errorf("cannot follow %s: its directory went away", w.authLog)
			case int(ev.WD) == dirWD && ev.Name == base:
				if ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
					t.replaced()
				} else {
					t.gone()
				}
			case t.cur != nil && ev.WD == t.cur.wd:
				t.drain(t.cur)
			case t.old != nil && ev.WD == t.old.wd:
				t.drain(t.old)
				if ev.Mask&unix.IN_ATTRIB != 0 && t.old.deleted() {
					t.old.close(fd)
					t.old = nil
				}
			}
		}
	}
}

// authLine reports one line of the auth log if sshd wrote it.
func (w *Watcher) authLine(line string) {
	e, l, ok := sshlog.ParseLine(line)
	if !ok {
		return
	}
	var proc *event.Process
	if l.PID > 0 {
		proc = &event.Process{PID: l.PID, Comm: l.Ident, UID: -1}
	}
	w.report(w.now(), e, proc)
}

// tailer keeps the file now at path (cur) and the one renamed away from it
// (old) open.
type tailer struct {
	path string
	ino  int
	line func(string)
	cur  *tailFile
	old  *tailFile
}

type tailFile struct {
	f       *os.File
	wd      int32
	off     int64
	partial []byte
	// overlong: the line being read is past maxLine and is skipped.
	overlong bool
	dev      uint64
	inode    uint64
}

// open opens the file at path and reads it from its end (atEnd) or start.
func (t *tailer) open(atEnd bool) error {
	f, err := os.Open(t.path)
	if err != nil {
		return fmt.Errorf("cannot open %s: %w", t.path, err)
	}
	// Through /proc the watch lands on this very file even if path is
	// replaced meanwhile; the path itself is the fallback.
	wd, err := unix.InotifyAddWatch(t.ino, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.IN_MODIFY|unix.IN_ATTRIB)
	if err != nil {
		wd, err = unix.InotifyAddWatch(t.ino, t.path, unix.IN_MODIFY|unix.IN_ATTRIB)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("cannot watch %s: %w", t.path, err)
	}
	tf := &tailFile{f: f, wd: int32(wd)}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err == nil {
		tf.dev, tf.inode = st.Dev, st.Ino
		if atEnd {
			tf.off = st.Size
		}
	}
	t.cur = tf
	if !atEnd {
		t.drain(tf)
	}
	return nil
}

// gone: the name was renamed away or deleted. Keep reading the file.
func (t *tailer) gone() {
	if t.cur == nil {
		return
	}
	t.drain(t.cur)
	if t.old != nil {
		t.old.close(t.ino)
	}
	t.old, t.cur = t.cur, nil
}

// replaced: a file appeared at the name; it is new, so it is read from its
// start. A file renamed over the name replaces cur without a "gone".
func (t *tailer) replaced() {
	if t.cur != nil {
		if t.cur.is(t.path) {
			return
		}
		t.gone()
	}
	if t.old != nil {
		t.drain(t.old)
	}
	t.open(false)
}

// resync catches up after lost inotify events.
func (t *tailer) resync() {
	if t.old != nil {
		t.drain(t.old)
	}
	if t.cur != nil && !t.cur.is(t.path) {
		t.gone()
	}
	if t.cur == nil {
		t.open(false)
	}
	if t.cur != nil {
		t.drain(t.cur)
	}
}

// drain reads what was written since the last call and hands on each
// complete line. A line longer than maxLine is dropped.
func (t *tailer) drain(tf *tailFile) {
	if fi, err := tf.f.Stat(); err == nil && fi.Size() < tf.off {
		tf.off, tf.partial, tf.overlong = 0, nil, false // truncated: a fresh start
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := tf.f.ReadAt(buf, tf.off)
		tf.off += int64(n)
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				if len(tf.partial)+len(data) > maxLine {
					tf.partial, tf.overlong = tf.partial[:0], true
				} else if !tf.overlong {
					tf.partial = append(tf.partial, data...)
				}
				break
			}
			line := data[:i]
			if len(tf.partial) > 0 {
				line = append(tf.partial, line...)
				tf.partial = tf.partial[:0]
			}
			if !tf.overlong {
				t.line(string(line))
			}
			tf.overlong = false
			data = data[i+1:]
		}
		if err != nil || n < len(buf) {
			return // io.EOF: caught up; another error: the next event retries
		}
	}
}

func (t *tailer) close() {
	for _, tf := range []*tailFile{t.cur, t.old} {
		if tf != nil {
			tf.close(t.ino)
		}
	}
}

func (tf *tailFile) close(ino int) {
	unix.InotifyRmWatch(ino, uint32(tf.wd))
	tf.f.Close()
}

// is says whether path names this file.
func (tf *tailFile) is(path string) bool {
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil && st.Dev == tf.dev && st.Ino == tf.inode
}

// deleted says whether the file has no name left.
func (tf *tailFile) deleted() bool {
	var st unix.Stat_t
	return unix.Fstat(int(tf.f.Fd()), &st) == nil && st.Nlink == 0
}
