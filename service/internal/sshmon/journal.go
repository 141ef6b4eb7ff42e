//go:build cgo

package sshmon

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>

static void *secmon_get_fd;

// secmon_journal_fd calls sd_journal_get_fd(j) from the libsystemd that
// go-systemd has already loaded. It returns a negative errno, or -1000
// when the library or the symbol cannot be found.
static int secmon_journal_fd(void *j) {
	if (!secmon_get_fd) {
		void *h = dlopen("libsystemd.so.0", RTLD_LAZY);
		if (!h)
			return -1000;
		secmon_get_fd = dlsym(h, "sd_journal_get_fd");
		if (!secmon_get_fd)
			return -1000;
	}
	return ((int (*)(void *))secmon_get_fd)(j);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/sdjournal"
	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshlog"
)

// errNoJournal: the journal cannot be opened at all (no libsystemd).
var errNoJournal = errors.New("cannot open the journal")

// matches select sshd's entries: same-field matches are alternatives, and
// each disjunction adds another field's.
var matches = [][]string{
	{"SYSLOG_IDENTIFIER=sshd", "SYSLOG_IDENTIFIER=sshd-session", "SYSLOG_IDENTIFIER=sshd-auth"},
	{"_COMM=sshd", "_COMM=sshd-session", "_COMM=sshd-auth"},
	{"_SYSTEMD_UNIT=sshd.service", "_SYSTEMD_UNIT=ssh.service"},
}

func (w *Watcher) followJournal(ctx context.Context, ready func()) error {
	var j *sdjournal.Journal
	var err error
	if w.journalDir != "" {
		j, err = sdjournal.NewJournalFromDir(w.journalDir)
	} else {
		j, err = sdjournal.NewJournal()
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errNoJournal, err)
	}
	defer j.Close()
	for i, group := range matches {
		if i > 0 {
			if err := j.AddDisjunction(); err != nil {
				return fmt.Errorf("cannot match sshd's entries: %w", err)
			}
		}
		for _, m := range group {
			if err := j.AddMatch(m); err != nil {
				return fmt.Errorf("cannot match sshd's entries: %w", err)
			}
		}
	}
	inotify, err := journalFile(j)
	if err != nil {
		return err
	}
	defer inotify.Close()
	// Where the last run stopped, when it left a cursor: what sshd logged
	// while secmon was not running is read first (bounded), then what
	// comes. Without one, the end.
	catchUp := w.seekCursor(j)
	if !catchUp {
		if err := w.seekEnd(j); err != nil {
			return err
		}
	}
	w.log.Debug("following the journal", "directory", w.journalDir, "catching_up", catchUp)
	ready()

	stop := context.AfterFunc(ctx, func() { inotify.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	raw, err := inotify.SyscallConn()
	if err != nil {
		return fmt.Errorf("cannot wait for the journal: %w", err)
	}
	read := 0
	defer w.saveCursor(j, true)
	for {
		for {
			n, err := j.Next()
			if err != nil {
				return fmt.Errorf("cannot read the journal: %w", err)
			}
			if n == 0 {
				break
			}
			if catchUp {
				if read++; read > maxCatchUp {
					w.skippedCatchUp(j)
					catchUp = false
					continue
				}
				w.whileDown = true
			}
			w.journalEntry(j)
			w.whileDown = false
		}
		if catchUp {
			catchUp = false
			w.log.Info("read what sshd logged while secmon was not running", "entries", read)
		}
		w.saveCursor(j, false)
		// Sleep in Go's poller until the journal's inotify descriptor is
		// readable; sd-journal then reads the inotify events itself (new
		// files, rotation) through a wait that does not block.
		err := raw.Read(func(fd uintptr) bool {
			n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			return n > 0
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot wait for the journal: %w", err)
		}
		if r := j.Wait(0); r < 0 {
			return fmt.Errorf("cannot process the journal's changes: %w", syscall.Errno(-r))
		}
	}
}

// seekEnd places j at the end: what sshd logs from now on is read.
func (w *Watcher) seekEnd(j *sdjournal.Journal) error {
	// The end: SeekTail alone leaves no current entry, Previous makes the
	// last one current so that Next returns only what comes after it.
	if err := j.SeekTail(); err != nil {
		return fmt.Errorf("cannot seek to the end of the journal: %w", err)
	}
	n, err := j.Previous()
	if err != nil {
		return fmt.Errorf("cannot seek to the end of the journal: %w", err)
	}
	if n == 0 {
		// No sshd entry yet. Left at the tail, sd-journal would start a
		// file that appears later (rotation, the flush to /var/log/journal)
		// at its last entry and skip the others (systemd#9934): from the
		// head, every sshd entry is one this run has not seen.
		if err := j.SeekHead(); err != nil {
			return fmt.Errorf("cannot seek to the start of the journal: %w", err)
		}
	}
	return nil
}

// journalFile returns a duplicate of sd-journal's inotify descriptor that
// Go's poller can wait on. go-systemd does not offer sd_journal_get_fd and
// keeps the sd_journal pointer unexported, so it is read by reflection; a
// test fails if a go-systemd update changes that.
func journalFile(j *sdjournal.Journal) (*os.File, error) {
	f := reflect.ValueOf(j).Elem().FieldByName("cjournal")
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() {
		return nil, errors.New("cannot find the sd_journal handle in go-systemd's Journal")
	}
	fd := int(C.secmon_journal_fd(f.UnsafePointer()))
	if fd == -1000 {
		return nil, errors.New("cannot find sd_journal_get_fd in libsystemd.so.0")
	}
	if fd < 0 {
		return nil, fmt.Errorf("cannot get the journal's inotify descriptor: %w", syscall.Errno(-fd))
	}
	// The duplicate shares the open file (and its O_NONBLOCK, so os.NewFile
	// hands it to the poller); closing it leaves sd-journal's alone.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot duplicate the journal's inotify descriptor: %w", err)
	}
	return os.NewFile(uintptr(dup), "sd-journal inotify"), nil
}

// journalEntry reports the current entry if it is an sshd message the
// parser knows and sshd wrote it. The process is sshd's, from the fields
// journald adds.
func (w *Watcher) journalEntry(j *sdjournal.Journal) {
	msg, err := j.GetDataValue("MESSAGE")
	if err != nil {
		return
	}
	e, ok := sshlog.Parse(msg)
	if !ok {
		return
	}
	at := w.now()
	if us, err := j.GetRealtimeUsec(); err == nil {
		at = time.UnixMicro(int64(us))
	}
	field := func(name string) string { v, _ := j.GetDataValue(name); return v }
	if s := (sender{comm: field("_COMM"), exe: field("_EXE"), uid: field("_UID"), unit: field("_SYSTEMD_UNIT")}); !s.isSSHD() {
		// SYSLOG_IDENTIFIER is the sender's own claim: logger -t sshd
		// writes any text under it. Only journald's fields say who
		// wrote an entry, and they say it was not root's sshd. sshd's
		// own per-session process runs as the user and logs the
		// session's end ("Disconnected from user …"), never a login or
		// a refusal: only those are imitations worth a word.
		if e.Kind == sshlog.Accepted || e.Kind.IsFailure() {
			w.spoofed(at, field("SYSLOG_IDENTIFIER"), s, msg)
		}
		return
	}
	var proc *event.Process
	pid, err := j.GetDataValue("_PID")
	if err != nil {
		pid, err = j.GetDataValue("SYSLOG_PID") // forwarded syslog, journal-remote
	}
	if err == nil {
		if n, err := strconv.Atoi(pid); err == nil && n > 0 {
			proc = &event.Process{PID: n, UID: -1}
			proc.Comm, _ = j.GetDataValue("_COMM")
			proc.Exe, _ = j.GetDataValue("_EXE")
			proc.Unit, _ = j.GetDataValue("_SYSTEMD_UNIT")
			if uid, err := j.GetDataValue("_UID"); err == nil {
				if u, err := strconv.ParseInt(uid, 10, 64); err == nil {
					proc.UID = u
				}
			}
		}
	}
	w.report(at, e, proc)
}
