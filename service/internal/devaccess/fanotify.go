package devaccess

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/fanotify"
)

// The privileged link. Measured on kernel 6.18: classic fanotify sends
// nothing for device nodes; with FAN_REPORT_FID an inode mark reports every
// open and close with the opener's pid (1000 of 1000 short-lived openers),
// and the event names the node by file handle and fsid, which are matched
// against name_to_handle_at taken when the node is marked. Without
// CAP_SYS_ADMIN the kernel allows FID marks but reports pid 0, so this link
// is used only with that capability.

// fanEvent is one open or close, with the process looked up first thing.
type fanEvent struct {
	key  string
	pid  int
	mask uint64
	proc *event.Process
}

type fan struct {
	fd int
	f  *os.File
}

func newFan() (*fan, error) {
	if !fanotify.HasSysAdmin() {
		return nil, errors.New("fanotify would not name the opener without CAP_SYS_ADMIN")
	}
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_REPORT_FID|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY|unix.O_LARGEFILE)
	if errors.Is(err, unix.EPERM) {
		// The capability is there (checked above), so something else
		// refused the call: in practice a seccomp filter.
		return nil, fmt.Errorf("cannot start fanotify: fanotify_init: %w although CAP_SYS_ADMIN is effective; "+
			"a seccomp filter probably denies it (systemd's SystemCallFilter=, or a container's: "+
			"systemd-nspawn needs --system-call-filter='fanotify_init fanotify_mark')", err)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot start fanotify: fanotify_init: %w", err)
	}
	return &fan{fd: fd, f: os.NewFile(uintptr(fd), "fanotify")}, nil
}

func (f *fan) mark(node string) error {
	if err := unix.FanotifyMark(f.fd, unix.FAN_MARK_ADD, unix.FAN_OPEN|unix.FAN_CLOSE, unix.AT_FDCWD, node); err != nil {
		return fmt.Errorf("cannot mark %s: %w", node, err)
	}
	return nil
}

// read sends events until the file is closed; lookup names a pid at once,
// before a short-lived opener is reaped.
func (f *fan) read(out chan<- fanEvent, stop <-chan struct{}, lookup func(int) *event.Process) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.f.Read(buf)
		if err != nil {
			return err
		}
		for off := 0; off+int(unsafe.Sizeof(unix.FanotifyEventMetadata{})) <= n; {
			m := (*unix.FanotifyEventMetadata)(unsafe.Pointer(&buf[off]))
			if m.Event_len == 0 || off+int(m.Event_len) > n {
				break
			}
			rec := buf[off+int(m.Metadata_len) : off+int(m.Event_len)]
			off += int(m.Event_len)
			if m.Fd >= 0 {
				unix.Close(int(m.Fd)) // not with FID, but never leak one
			}
			info := fanotify.ParseInfo(rec)
			if info.PIDFD >= 0 {
				unix.Close(info.PIDFD)
			}
			if !info.OK {
				continue
			}
			ev := fanEvent{key: info.Key, pid: int(m.Pid), mask: m.Mask}
			if m.Mask&unix.FAN_OPEN != 0 && m.Pid > 0 {
				ev.proc = lookup(int(m.Pid))
			}
			select {
			case out <- ev:
			case <-stop:
				return nil
			}
		}
	}
}

// fanHandle applies one fanotify event: each pid's opens and closes are
// counted (a record may carry both), so the release is exact and every
// opener, however short-lived, is named.
func (w *Watcher) fanHandle(ev fanEvent, emit func(event.Event)) {
	node, ok := w.byKey[ev.key]
	if !ok {
		return
	}
	st := w.devices[node]
	if st == nil {
		return
	}
	if ev.mask&unix.FAN_OPEN != 0 {
		if len(st.pids) == 0 {
			st.since = w.now()
		}
		st.pids[ev.pid]++
		if !st.holders[ev.pid] {
			st.holders[ev.pid] = true
			emit(w.access(node, ev.pid, ev.proc, "fanotify"))
		}
	}
	if ev.mask&unix.FAN_CLOSE != 0 && st.pids[ev.pid] > 0 {
		if st.pids[ev.pid]--; st.pids[ev.pid] == 0 {
			delete(st.pids, ev.pid)
		}
		if len(st.pids) == 0 {
			w.released(node, st, "closed", emit)
		}
	}
}

// baseline counts the processes already holding node when it is marked:
// their closes will come, their opens never did.
func (w *Watcher) baseline(node string, st *state) {
	for _, pid := range w.holders(node) {
		if len(st.pids) == 0 {
			st.since = w.now()
			// Held before this run started: when the last run saw it
			// opened, if it knows, so the release gives the true
			// duration after a restart.
			if w.openedAt != nil {
				if t := w.openedAt(node); !t.IsZero() && t.Before(st.since) {
					st.since = t
				}
			}
		}
		st.pids[pid]++
		st.holders[pid] = true
	}
}
