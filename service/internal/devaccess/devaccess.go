// Package devaccess reports when a process opens a camera or a microphone
// and when the last opener lets go: two edges per use, never a stream of
// reads.
//
// Openers are named by the best link the daemon's privileges allow:
//   - fanotify with FAN_REPORT_FID (CAP_SYS_ADMIN): every open and close with
//     its pid, so even a program that exits at once is named, and release is
//     counted per pid; see fanotify.go for what was measured.
//   - otherwise inotify IN_OPEN/IN_CLOSE, and at each open a scan of
//     /proc/*/fd: it cannot see other users' fds without CAP_SYS_PTRACE and
//     misses an opener that closed before the scan; such an open is reported
//     as by an unknown process, never dropped.
//
// When the opener is a media broker (PipeWire, PulseAudio, JACK), the kernel
// names only the broker; the event says so (metadata broker) and, where
// the broker's graph can be read (secmon runs as root or as the broker's
// user), names the applications whose streams are linked to the device
// (client, client_pid: PipeWire's peer credentials, re-read from /proc).
// A broker opens the device once for all its clients: a second application
// joining a device already open is not an open the kernel reports.
//
// inotify also watches the nodes' directories, so devices plugged in later
// are picked up, and tells when a node goes away.
package devaccess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/fanotify"
	"github.com/pantheros/secmon/service/internal/inotify"
	"github.com/pantheros/secmon/service/internal/procinfo"
	"github.com/pantheros/secmon/service/internal/pwgraph"
)

// Kind says what the devices are.
type Kind struct {
	Name     string // "camera", "microphone"
	Access   event.Type
	Released event.Type
}

// Camera and Microphone are the two kinds.
var (
	Camera     = Kind{"camera", event.CameraAccess, event.CameraReleased}
	Microphone = Kind{"microphone", event.MicrophoneAccess, event.MicrophoneReleased}
)

// Watcher watches the device nodes matching some globs.
type Watcher struct {
	kind  Kind
	globs []string
	log   *slog.Logger
	procs *procinfo.Reader
	graph *pwgraph.Reader
	proc  string
	now   func() time.Time
	// openedAt, if set, says when an earlier run saw node opened.
	openedAt func(node string) time.Time
	// unprivileged: running without fanotify is expected (user mode).
	unprivileged bool

	ctx     context.Context // Run's, for look-ups made while handling an event
	ready   chan struct{}
	fd      int
	fan     *fan              // nil: no CAP_SYS_ADMIN, inotify and /proc only
	fanErr  error             // why fan is nil
	byWD    map[int32]string  // inotify watch → node or directory
	byKey   map[string]string // fanotify file handle → node
	dirs    map[string]bool   // directories watched for new nodes
	devices map[string]*state // node → state
}

type state struct {
	wd      int32
	dev     uint64 // st_dev and st_ino of the node watched: a re-plugged
	ino     uint64 // device gets a new node under the same name
	opens   int    // IN_OPEN minus IN_CLOSE; a lower bound (inotify merges repeats)
	since   time.Time
	holders map[int]bool // pids reported for the current use
	unknown int          // opens of this use no scan could attribute
	key     string       // fanotify handle key; empty when not marked
	pids    map[int]int  // with fanotify: open fds per pid
}

// SetOpenedAt tells the watcher, before Run, how to learn when a device
// found in use at start was opened (the daemon's replay log knows, across
// a restart); the zero time means unknown.
func (w *Watcher) SetOpenedAt(f func(node string) time.Time) { w.openedAt = f }

// SetUnprivileged says, before Run, that the daemon runs without the
// privileges fanotify needs as expected (user mode): the /proc scan is then
// its normal way, not a degradation.
func (w *Watcher) SetUnprivileged() { w.unprivileged = true }

// New checks the globs (absolute, valid).
func New(kind Kind, globs []string, logger *slog.Logger) (*Watcher, error) {
	for _, g := range globs {
		if !filepath.IsAbs(g) {
			return nil, fmt.Errorf("cannot watch %s devices %q: not an absolute path", kind.Name, g)
		}
		if _, err := filepath.Match(g, "/"); err != nil {
			return nil, fmt.Errorf("cannot watch %s devices %q: %w", kind.Name, g, err)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{kind: kind, globs: globs, log: logger.With("component", kind.Name),
		procs: procinfo.New(), graph: &pwgraph.Reader{}, proc: "/proc", now: time.Now, ready: make(chan struct{})}, nil
}

// Attribution says how openers are named, once Ready: "fanotify" (every
// opener, with CAP_SYS_ADMIN) or "procfs" (a scan: short-lived openers and,
// without CAP_SYS_PTRACE, other users' programs are unknown).
func (w *Watcher) Attribution() string {
	if w.fan != nil {
		return "fanotify"
	}
	return "procfs"
}

// NoFanotify says, once Ready, why openers are not named by fanotify (the
// capability missing, or the call refused and by what), or "" when they are.
func (w *Watcher) NoFanotify() string {
	if w.fan != nil || w.fanErr == nil {
		return ""
	}
	return w.fanErr.Error()
}

// status says what is watched and how openers are named.
func (w *Watcher) status() event.Event {
	watching := "watching " + strings.Join(w.globs, ", ")
	if w.fan != nil {
		return event.Status(w.kind.Name, event.Running, event.Low, watching+"; openers named by fanotify")
	}
	reason := watching + "; openers named by a /proc scan, which misses short-lived ones" +
		" (" + w.NoFanotify() + "; other users' programs need CAP_SYS_PTRACE)"
	if w.unprivileged {
		// Expected without the system service: it works, less sharply.
		return event.Status(w.kind.Name, event.Running, event.Low, reason)
	}
	return event.Status(w.kind.Name, event.Degraded, event.Medium, reason)
}

// Ready is closed once Run watches the nodes present at start, and it has
// said so in a MonitorStatus.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context, emit func(event.Event)) error {
	w.ctx = ctx
	readyOnce := sync.OnceFunc(func() { close(w.ready) })
	defer readyOnce()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("cannot start inotify: %w", err)
	}
	w.fd, w.byWD, w.byKey, w.dirs, w.devices = fd, map[int32]string{}, map[string]string{}, map[string]bool{}, map[string]*state{}
	f := os.NewFile(uintptr(fd), "inotify")
	// On return: close the files (readers' Read fails), release any send
	// in progress, then wait for both readers.
	var readers sync.WaitGroup
	defer readers.Wait()
	stop := make(chan struct{})
	defer close(stop)
	defer f.Close()
	fanCh := make(chan fanEvent, 256)
	if fn, err := newFan(); err == nil {
		w.fan = fn
		defer fn.f.Close()
		readers.Add(1)
		go func() {
			defer readers.Done()
			fn.read(fanCh, stop, w.procs.Lookup)
		}()
	} else {
		w.fanErr = err
		w.log.Debug("naming openers from /proc", "why", err)
	}

	for _, g := range w.globs {
		dir := filepath.Dir(g)
		if !w.dirs[dir] {
			if wd, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_ATTRIB); err == nil {
				w.dirs[dir], w.byWD[int32(wd)] = true, dir
			}
		}
		matches, _ := filepath.Glob(g)
		for _, m := range matches {
			w.add(m, emit)
		}
	}
	w.log.Debug("watching", "devices", len(w.devices), "fanotify", w.fan != nil)
	emit(w.status())
	readyOnce()

	inoCh := make(chan []inotify.Event, 16)
	inoErr := errors.New("the stream ended") // set before inoCh is closed
	readers.Add(1)
	go func() {
		defer readers.Done()
		buf := make([]byte, inotify.ReadSize)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if errors.Is(err, syscall.EINTR) {
					continue
				}
				close(inoCh)
				return
			}
			evs, err := inotify.Parse(buf[:n])
			if err != nil {
				inoErr = err // the kernel writes whole records: not recoverable
				close(inoCh)
				return
			}
			select {
			case inoCh <- evs:
			case <-stop:
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case evs, ok := <-inoCh:
			if !ok {
				return fmt.Errorf("cannot read inotify events: %w", inoErr)
			}
			for _, e := range evs {
				w.handle(e.WD, e.Mask, e.Name, emit)
			}
		case ev := <-fanCh:
			w.fanHandle(ev, emit)
		}
	}
}

func (w *Watcher) matches(p string) bool {
	for _, g := range w.globs {
		if ok, _ := filepath.Match(g, p); ok {
			return true
		}
	}
	return false
}

// add watches node, or the new node behind that name when the device was
// re-plugged: the old node may still be held open (its IN_IGNORED comes
// only when the last fd closes), so the name alone does not say it is the
// same device.
func (w *Watcher) add(node string, emit func(event.Event)) {
	var fi unix.Stat_t
	if err := unix.Stat(node, &fi); err != nil {
		return
	}
	if old, ok := w.devices[node]; ok {
		if old.dev == fi.Dev && old.ino == fi.Ino {
			return
		}
		w.drop(node, old, emit)
	}
	wd, err := unix.InotifyAddWatch(w.fd, node, unix.IN_OPEN|unix.IN_CLOSE_WRITE|unix.IN_CLOSE_NOWRITE)
	if err != nil {
		w.log.Warn("cannot watch device", "node", node, "err", err)
		return
	}
	w.byWD[int32(wd)] = node
	st := &state{wd: int32(wd), dev: fi.Dev, ino: fi.Ino, holders: map[int]bool{}, pids: map[int]int{}}
	w.devices[node] = st
	if w.fan == nil {
		return
	}
	k, err := fanotify.HandleKey(node)
	if err == nil {
		err = w.fan.mark(node)
	}
	if err != nil {
		w.log.Warn("naming this device's openers from /proc only", "node", node, "err", err)
		return
	}
	st.key, w.byKey[k] = k, node
	w.baseline(node, st)
}

func (w *Watcher) handle(wd int32, mask uint32, name string, emit func(event.Event)) {
	p, ok := w.byWD[wd]
	if !ok {
		return
	}
	if w.dirs[p] && name != "" {
		if mask&(unix.IN_CREATE|unix.IN_ATTRIB) != 0 && w.matches(filepath.Join(p, name)) {
			w.add(filepath.Join(p, name), emit) // a device plugged in later
		}
		return
	}
	st := w.devices[p]
	if st == nil {
		return
	}
	if st.wd != wd {
		return // the watch of a node this name had before a re-plug
	}
	switch {
	case mask&unix.IN_IGNORED != 0: // the node went away (unplugged)
		w.drop(p, st, emit)
	case st.key != "":
		// fanotify counts this node's opens and names each opener.
	case mask&unix.IN_OPEN != 0:
		if st.opens == 0 && len(st.holders) == 0 && st.unknown == 0 {
			st.since = w.now()
		}
		st.opens++
		w.opened(p, st, emit)
	case mask&(unix.IN_CLOSE_WRITE|unix.IN_CLOSE_NOWRITE) != 0:
		// A close without its open (a node created, or opened, before its
		// watch landed) ends no use.
		if st.opens == 0 && len(st.holders) == 0 && st.unknown == 0 {
			return
		}
		if st.opens > 0 {
			st.opens--
		}
		// inotify merges identical events still unread, so two quick closes
		// may arrive as one: ask /proc who still holds the node. An opener
		// no scan could see keeps the use open until the count says so.
		still := map[int]bool{}
		for _, pid := range w.holders(p) {
			still[pid] = true
		}
		for pid := range st.holders {
			if !still[pid] {
				delete(st.holders, pid)
			}
		}
		if len(still) == 0 && (st.unknown == 0 || st.opens == 0) {
			w.released(p, st, "closed", emit)
		}
	}
}

// drop forgets node's old inode. A use still open ends here, said as such:
// the device went away, so nobody holds it any more.
func (w *Watcher) drop(node string, st *state, emit func(event.Event)) {
	if len(st.holders) > 0 || st.unknown > 0 || st.opens > 0 || len(st.pids) > 0 {
		w.released(node, st, "removed", emit)
	}
	delete(w.devices, node)
	if w.byWD[st.wd] == node {
		delete(w.byWD, st.wd)
	}
	unix.InotifyRmWatch(w.fd, uint32(st.wd)) // fails harmlessly once IN_IGNORED came
	if st.key != "" {
		delete(w.byKey, st.key)
	}
}

// opened reports each process newly holding the node, or one unknown
// opener when the scan finds nobody new.
func (w *Watcher) opened(node string, st *state, emit func(event.Event)) {
	found := false
	for _, pid := range w.holders(node) {
		if st.holders[pid] {
			continue
		}
		st.holders[pid] = true
		found = true
		emit(w.access(node, pid, w.procs.Lookup(pid), "procfs"))
	}
	if !found {
		st.unknown++
		emit(event.Event{Type: w.kind.Access, Path: node,
			Description: fmt.Sprintf("%s in use: %s opened by an unknown process", title(w.kind.Name), node),
			Metadata:    map[string]string{"mask": "OPEN", "attribution": "unknown"}})
	}
}

// access is the event for pid opening node; p is what could be read of it
// (nil when it was gone first). When the opener is a media broker
// (PipeWire), the event names the broker as the process and, where its
// graph can be read, the applications whose streams are linked to the
// device; the metadata says which is which.
func (w *Watcher) access(node string, pid int, p *event.Process, attribution string) event.Event {
	who := "pid " + strconv.Itoa(pid)
	if p != nil && p.Comm != "" {
		who = p.Comm + " (pid " + strconv.Itoa(pid) + ")"
	} else {
		p = &event.Process{PID: pid, UID: -1}
		who += " (gone before it could be named)"
	}
	md := map[string]string{"mask": "OPEN", "attribution": attribution}
	desc := fmt.Sprintf("%s in use: %s opened %s", title(w.kind.Name), who, node)
	if broker := pwgraph.Broker(p.Comm, p.Exe); broker != "" {
		md["broker"] = broker
		clients, err := w.graph.Clients(w.ctx, pid, p.UID, node)
		var names, pids []string
		for _, c := range clients {
			name := c.Name
			if c.PID > 0 {
				if cp := w.procs.Lookup(c.PID); cp != nil && cp.Comm != "" {
					name = cp.Comm
					if md["client_exe"] == "" {
						md["client_exe"] = cp.Exe
					}
				}
				pids = append(pids, strconv.Itoa(c.PID))
			}
			if name == "" {
				name = c.Stream
			}
			names = append(names, name)
		}
		switch {
		case err != nil:
			md["client_lookup"] = err.Error()
			desc = fmt.Sprintf("%s in use: %s, a media broker, opened %s for an application it does not name here (%v)", title(w.kind.Name), who, node, err)
		case len(names) == 0:
			md["client_lookup"] = "no stream linked"
			desc = fmt.Sprintf("%s in use: %s, a media broker, opened %s; no application stream is linked to it yet", title(w.kind.Name), who, node)
		default:
			md["client_lookup"] = broker + " graph"
			md["client"] = strings.Join(names, ", ")
			md["client_pid"] = strings.Join(pids, ", ")
			desc = fmt.Sprintf("%s in use: %s through %s opened %s", title(w.kind.Name), md["client"], who, node)
			if len(pids) > 0 {
				desc = fmt.Sprintf("%s in use: %s (pid %s) through %s opened %s", title(w.kind.Name), md["client"], md["client_pid"], who, node)
			}
		}
	}
	return event.Event{Type: w.kind.Access, Path: node, Process: p, Description: desc, Metadata: md}
}

// released ends the node's use, whichever link saw it end.
// how is "closed", or "removed" when the device went away in use.
func (w *Watcher) released(node string, st *state, how string, emit func(event.Event)) {
	d := w.now().Sub(st.since)
	st.holders, st.unknown, st.opens, st.pids = map[int]bool{}, 0, 0, map[int]int{}
	what := "closed"
	if how == "removed" {
		what = "removed while in use"
	}
	emit(event.Event{Type: w.kind.Released, Path: node,
		Description: fmt.Sprintf("%s released: %s %s after %s", title(w.kind.Name), node, what, d.Round(time.Second)),
		Metadata:    map[string]string{"duration_ms": strconv.FormatInt(d.Milliseconds(), 10), "how": how}})
}

// holders lists the pids with an fd on node (same device and inode).
func (w *Watcher) holders(node string) []int {
	var want unix.Stat_t
	if err := unix.Stat(node, &want); err != nil {
		return nil
	}
	pids, err := procinfo.PIDs(w.proc)
	if err != nil {
		return nil
	}
	var out []int
	self := os.Getpid()
	for _, pid := range pids {
		if pid == self {
			continue
		}
		fds, err := procinfo.FDs(w.proc, pid)
		if err != nil {
			continue // gone, or another user's without CAP_SYS_PTRACE
		}
		for _, fd := range fds {
			var st unix.Stat_t
			if unix.Stat(fd, &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino && st.Rdev == want.Rdev {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
