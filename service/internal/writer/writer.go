// Package writer names the process that created, wrote, renamed or deleted
// a sensitive file: the persistence spots and SSH material the filesystem
// monitor's rules know. inotify, which the filesystem monitor runs, never
// says who acted; fanotify does, with CAP_SYS_ADMIN.
//
// A Tracker holds one fanotify group (FAN_REPORT_DFID_NAME, and
// FAN_REPORT_PIDFD where the kernel offers it) with a mark on each
// directory the filesystem monitor watches that can hold a sensitive path
// (Config.Holds): FAN_MODIFY, FAN_CLOSE_WRITE, FAN_ATTRIB on its entries
// (FAN_EVENT_ON_CHILD), FAN_CREATE, FAN_DELETE, FAN_MOVED_FROM and
// FAN_MOVED_TO in it, subdirectories included (FAN_ONDIR). Every other
// directory gets no mark and costs nothing. Each event names its directory
// by file handle and its entry by name; for a sensitive path
// (Config.Sensitive) the process is read from /proc at once, while the
// kernel still holds a pidfd for it, so a writer that exits at once is
// still named (its comm and uid at least: a zombie keeps them until it is
// reaped). The pidfd says whether what /proc said belongs to that process
// and not to a later one with the same pid. A process inside an SSH
// session also gets the session's remote address (SSHFrom), read from the
// TCP socket of its nearest sshd ancestor: not from the environment, which
// the session's user controls.
//
// What the Tracker learns is kept in a short, bounded memory, path → last
// writer, that the filesystem monitor asks (Attribute) when it reports a
// change to a sensitive path: the last writer within Window of the report.
// Where the filesystem monitor folds writes to one path within a second
// into one event, that event names the writer fanotify saw last. Without
// CAP_SYS_ADMIN the kernel would report
// pid 0 (fanotify FID groups are allowed unprivileged but hide the pid),
// so New refuses, saying why, and file events carry no process.
package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/fanotify"
	"github.com/pantheros/secmon/service/internal/lru"
	"github.com/pantheros/secmon/service/internal/procinfo"
)

const (
	// remembered bounds the paths whose last writer is kept.
	remembered = 1024
	// Window is how far a writer seen by fanotify may be from the change
	// the filesystem monitor reports: an older one is not taken for its
	// author.
	Window = 2 * time.Second
	// wait bounds how long Attribute waits for fanotify's event of a change
	// inotify reported first (both are queued by the same system call, so
	// in practice it is microseconds).
	wait = 250 * time.Millisecond
	// mask is what a mark on a directory reports.
	mask = unix.FAN_MODIFY | unix.FAN_CLOSE_WRITE | unix.FAN_ATTRIB | unix.FAN_CREATE | unix.FAN_DELETE |
		unix.FAN_MOVED_FROM | unix.FAN_MOVED_TO | unix.FAN_EVENT_ON_CHILD | unix.FAN_ONDIR
)

// Config says which directories get a mark and which paths are worth a
// process lookup.
type Config struct {
	// Holds says whether a directory can hold a sensitive path: only such
	// directories are marked.
	Holds func(dir string) bool
	// Sensitive says whether a change to path needs its writer named.
	Sensitive func(path string) bool
	// Proc is the /proc root ("/proc" when empty).
	Proc string
}

// Writer is who changed a path, and when fanotify said so.
type Writer struct {
	Process *event.Process
	// SSHFrom is the remote address of the SSH session the process runs
	// in, "" when it runs in none.
	SSHFrom string
	At      time.Time
}

// Tracker watches the marked directories; see the package doc.
type Tracker struct {
	cfg   Config
	log   *slog.Logger
	f     *os.File
	fd    int
	pidfd bool
	procs *procinfo.Reader
	now   func() time.Time
	read  atomic.Uint64 // events read

	mu      sync.Mutex
	changed chan struct{}     // closed and replaced when a writer is learnt
	dirs    map[string]string // handle key → directory
	marked  map[string]string // directory → handle key
	last    *lru.Cache[string, Writer]
}

// New starts a fanotify group, or says why it cannot name writers.
func New(cfg Config, logger *slog.Logger) (*Tracker, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Proc == "" {
		cfg.Proc = "/proc"
	}
	if !fanotify.HasSysAdmin() {
		return nil, errors.New("naming who changed a file needs CAP_SYS_ADMIN (fanotify reports pid 0 without it)")
	}
	flags := uint(unix.FAN_CLASS_NOTIF | unix.FAN_REPORT_DFID_NAME | unix.FAN_CLOEXEC | unix.FAN_NONBLOCK)
	fd, err := unix.FanotifyInit(flags|unix.FAN_REPORT_PIDFD, unix.O_RDONLY|unix.O_LARGEFILE)
	pidfd := err == nil
	if errors.Is(err, unix.EINVAL) { // before Linux 5.15
		fd, err = unix.FanotifyInit(flags, unix.O_RDONLY|unix.O_LARGEFILE)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot start fanotify with FAN_REPORT_DFID_NAME (Linux 5.9 or later; a seccomp filter may deny it): %w", err)
	}
	t := &Tracker{
		cfg: cfg, log: logger.With("component", "writer"), fd: fd, f: os.NewFile(uintptr(fd), "fanotify"), pidfd: pidfd,
		procs: procinfo.NewAt(cfg.Proc), now: time.Now, changed: make(chan struct{}),
		dirs: map[string]string{}, marked: map[string]string{}, last: lru.New[string, Writer](remembered),
	}
	return t, nil
}

// Features says what the kernel offered.
func (t *Tracker) Features() string {
	if t.pidfd {
		return "fanotify FAN_REPORT_DFID_NAME with FAN_REPORT_PIDFD"
	}
	return "fanotify FAN_REPORT_DFID_NAME without pidfds (Linux 5.15 adds them)"
}

// Read counts the fanotify events read so far, of sensitive paths or not.
func (t *Tracker) Read() uint64 { return t.read.Load() }

// Marked lists the directories marked now.
func (t *Tracker) Marked() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ds := make([]string, 0, len(t.marked))
	for d := range t.marked {
		ds = append(ds, d)
	}
	return ds
}

// Watch marks dir when it can hold a sensitive path; the filesystem monitor
// calls it for every directory it watches.
func (t *Tracker) Watch(dir string) {
	if t.cfg.Holds == nil || !t.cfg.Holds(dir) {
		return
	}
	k, err := fanotify.HandleKey(dir)
	if err == nil {
		err = unix.FanotifyMark(t.fd, unix.FAN_MARK_ADD|unix.FAN_MARK_ONLYDIR, mask, unix.AT_FDCWD, dir)
	}
	if err != nil {
		t.log.Debug("cannot mark directory", "path", dir, "err", err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.marked[dir]; ok {
		delete(t.dirs, old)
	}
	t.dirs[k], t.marked[dir] = dir, k
}

// Unwatch removes dir's mark; the kernel has removed it already when dir
// was deleted.
func (t *Tracker) Unwatch(dir string) {
	t.mu.Lock()
	k, ok := t.marked[dir]
	delete(t.marked, dir)
	delete(t.dirs, k)
	t.mu.Unlock()
	if ok {
		_ = unix.FanotifyMark(t.fd, unix.FAN_MARK_REMOVE|unix.FAN_MARK_ONLYDIR, mask, unix.AT_FDCWD, dir)
	}
}

// Attribute is Last as the filesystem monitor asks it (fswatch.Writers):
// the process, and ssh_from for a process in an SSH session.
func (t *Tracker) Attribute(path string, at time.Time) (*event.Process, map[string]string) {
	w := t.Last(path, at)
	if w == nil {
		return nil, nil
	}
	if w.SSHFrom != "" {
		return w.Process, map[string]string{"ssh_from": w.SSHFrom}
	}
	return w.Process, nil
}

// Last returns who changed path, as fanotify reported it within Window of
// at, waiting a moment for an event not read yet when path's directory is
// marked; nil when nobody is known.
func (t *Tracker) Last(path string, at time.Time) *Writer {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		w, ok := t.last.Peek(path)
		_, marked := t.marked[filepath.Dir(path)]
		if !marked {
			_, marked = t.marked[path]
		}
		changed := t.changed
		t.mu.Unlock()
		if ok && w.At.After(at.Add(-Window)) && w.At.Before(at.Add(Window)) {
			return &w
		}
		if !marked {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil
		}
	}
}

// Run reads events until ctx ends, then closes the group.
func (t *Tracker) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { t.f.Close() })
	defer stop()
	buf := make([]byte, 64<<10)
	for {
		n, err := t.f.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("cannot read fanotify events: %w", err)
		}
		t.records(buf[:n])
	}
}

func (t *Tracker) records(buf []byte) {
	const metaLen = int(unsafe.Sizeof(unix.FanotifyEventMetadata{}))
	for off := 0; off+metaLen <= len(buf); {
		m := (*unix.FanotifyEventMetadata)(unsafe.Pointer(&buf[off]))
		if m.Event_len == 0 || off+int(m.Event_len) > len(buf) {
			return
		}
		info := buf[off+int(m.Metadata_len) : off+int(m.Event_len)]
		off += int(m.Event_len)
		if m.Fd >= 0 {
			unix.Close(int(m.Fd)) // never with FID, but never leak one
		}
		t.read.Add(1)
		rec := fanotify.ParseInfo(info)
		t.learn(rec, int(m.Pid))
		if rec.PIDFD >= 0 {
			unix.Close(rec.PIDFD)
		}
	}
}

// learn names the process behind one event on a sensitive path.
func (t *Tracker) learn(rec fanotify.Info, pid int) {
	if !rec.OK || pid <= 0 {
		return
	}
	t.mu.Lock()
	dir, ok := t.dirs[rec.Key]
	t.mu.Unlock()
	if !ok {
		return
	}
	path := dir
	if rec.Name != "" && rec.Name != "." {
		path = filepath.Join(dir, rec.Name)
	}
	if t.cfg.Sensitive != nil && !t.cfg.Sensitive(path) {
		return
	}
	w := Writer{Process: &event.Process{PID: pid, UID: -1}, At: t.now()}
	// With pidfds, FAN_NOPIDFD says the process was reaped before the
	// event was read: /proc/PID may be another process by now, so only
	// the pid is told. Otherwise the pidfd pins the process (alive or a
	// zombie, which keeps its comm and uid) while /proc is read.
	if !t.pidfd || rec.PIDFD >= 0 {
		if p := t.procs.Lookup(pid); p != nil {
			w.Process = p
			w.SSHFrom = sshFrom(t.cfg.Proc, pid)
		}
	}
	t.mu.Lock()
	if prev, ok := t.last.Peek(path); ok && prev.Process.PID == pid && w.Process.Comm == "" {
		// A later event of the same writer (its close after its write)
		// read after it was gone: what was learnt while it ran stays.
		w.Process, w.SSHFrom = prev.Process, prev.SSHFrom
	}
	t.last.Add(path, w)
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}
