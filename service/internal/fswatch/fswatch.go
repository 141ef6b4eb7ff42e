// Package fswatch is secmon's filesystem monitor: it turns inotify events
// under the configured [[watches]] into FileCreate, FileModify, FileDelete,
// FileMove and FileAttrib events, or what a [Rule] says a change means (the
// ssh monitor's: a change to SSH material is an SshAccess under any watch).
// Other monitors lend it watches of their own (the ssh monitor's keys and
// sshd's configuration): one inotify instance, one event per change,
// whichever watch sees it.
//
// inotify watches existing directories, not paths, so the package keeps its
// set of inotify watches in step with the configuration:
//
//   - every watch root is observed through its parent directory, so that a
//     single file such as ~/.bashrc is seen when an editor replaces it by
//     renaming a temporary file over it, and a deleted root is seen coming
//     back;
//   - while the root's parent does not exist, its nearest existing ancestor
//     is watched instead (a helper whose own events are never reported), and
//     the watch advances as the missing components appear;
//   - a recursive watch, and a pattern such as "/home/*/.ssh", watches every
//     directory that can still hold paths in scope. A directory watched after
//     it appeared is scanned at once, and what the scan finds is reported
//     with found_by=scan: "mkdir -p a/b/c" and files created in it before
//     the watch landed are not lost, as they are with inotifywait -r.
//
// A directory needed by several watches is watched once and reference
// counted. Nothing here polls or ticks: when nothing changes, nothing runs.
package fswatch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
)

const (
	// eventBuffer lets a burst (unpacking a tarball into a watched tree)
	// wait while emit is slow, on top of the kernel's own queue
	// (/proc/sys/fs/inotify/max_queued_events, 16384 by default).
	eventBuffer = 4096
	// scannedMax bounds the paths remembered from scans, see Watcher.scanned.
	scannedMax = 4096
	// selfMovesMax bounds the renamed directories whose own IN_MOVE_SELF
	// may still arrive, see Watcher.selfMoves.
	selfMovesMax = 256
)

// Config is the filesystem monitor's section: its own [[watches]], and the
// watches other monitors lend it.
type Config struct {
	// Off is monitors.filesystem = false: only the guests' watches run, and
	// the monitor says nothing about itself.
	Off bool
	// Watches are the enabled [[watches]].
	Watches []config.Watch
	// Guests are other monitors' watches, run in the same inotify instance.
	Guests []Guest
	// Rules are asked, in order, about every path reported under any
	// watch: the first to return a type replaces the file event's, its
	// severity is the least the event gets, and its md is added to the
	// metadata. A rule that returns no type but a severity only raises the
	// event to it (a persistence spot), and the next rules are asked too.
	Rules []Rule
	// Writers, when set, names who changed a path a rule matched (package
	// writer, through fanotify): it is told every directory watched.
	Writers Writers
}

// Writers names the process behind a change to a sensitive path.
type Writers interface {
	// Watch and Unwatch follow the directories watched.
	Watch(dir string)
	Unwatch(dir string)
	// Attribute returns who changed path around at, with metadata to
	// add; nil when unknown.
	Attribute(path string, at time.Time) (*event.Process, map[string]string)
}

// Guest is a monitor that has this one watch files for it.
type Guest struct {
	// Monitor names it (for errors).
	Monitor string
	Watches []config.Watch
}

// Rule says what a change to path means beyond a file event, or returns
// an empty type.
type Rule func(path string) (typ event.Type, least event.Severity, md map[string]string)

// Watcher reports changes under the configured watches.
type Watcher struct {
	specs   []*spec
	rules   []Rule
	writers Writers
	// own is how many specs are the monitor's own; quiet: it is off.
	own   int
	quiet bool
	log   *slog.Logger
	now   func() time.Time
	ready chan struct{} // closed once the initial watches are in place

	// Run's state, touched by Run's goroutine only.
	ino *fsnotify.Watcher
	// batch is the events Run took in a row, kept for its array.
	batch []fsnotify.Event
	emit  func(event.Event)
	// refs counts, per watched directory, the trees and helpers needing it.
	refs map[string]int
	// scanned holds paths reported by a scan. A file created while its
	// directory's watch was being added is seen by the scan and by inotify;
	// the inotify CREATE that follows is dropped when its path is here. The
	// set forgets the oldest entries beyond scannedMax: a CREATE that comes
	// after more than scannedMax other scanned paths is reported twice,
	// which is preferred to growing without bound (no creation is lost).
	// Removing or renaming a path forgets it, so that a later creation at
	// the same path is reported.
	scanned *pathSet
	// selfMoves holds directories whose move was reported by their parent:
	// the IN_MOVE_SELF of their own watch arrives as a second RENAME.
	selfMoves *pathSet
	last      struct {
		path  string
		kind  kind
		at    time.Time
		ruled map[string]string // what the rules said of it
	}
	// The watch limit: when it was last reported, and the directories
	// left unwatched since.
	limitSaidAt time.Time
	limitMissed int
}

// New checks the watches (only enabled ones count) and prepares, but does
// not start, watching.
func New(cfg Config, logger *slog.Logger) (*Watcher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{log: logger.With("component", "fswatch"), now: time.Now, ready: make(chan struct{}), quiet: cfg.Off}
	var errs []error
	add := func(who string, watches []config.Watch) {
		for i, wt := range watches {
			if !wt.IsEnabled() {
				continue
			}
			s, err := compile(wt)
			if err != nil {
				errs = append(errs, fmt.Errorf("cannot use %swatch %d: %w", who, i, err))
				continue
			}
			w.specs = append(w.specs, s)
		}
	}
	add("", cfg.Watches)
	w.own = len(w.specs)
	for _, g := range cfg.Guests {
		add("the "+g.Monitor+" monitor's ", g.Watches)
	}
	w.rules, w.writers = cfg.Rules, cfg.Writers
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return w, nil
}

// Ready is closed once Run has placed the initial watches (or failed to
// start): from then on, a change under a watched path is reported. The
// daemon waits for it before telling systemd it is ready.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx ends; it returns nil on cancellation. emit is called
// from Run's goroutine only. Run is meant to be called once.
func (w *Watcher) Run(ctx context.Context, emit func(event.Event)) error {
	readyOnce := sync.OnceFunc(func() { close(w.ready) })
	defer readyOnce() // nobody waits for a Run that failed to start
	ino, err := fsnotify.NewBufferedWatcher(eventBuffer)
	if err != nil {
		return fmt.Errorf("cannot start inotify: %w", err)
	}
	defer ino.Close()
	w.ino, w.emit, w.refs = ino, emit, map[string]int{}
	w.scanned, w.selfMoves = newPathSet(scannedMax), newPathSet(selfMovesMax)
	for _, s := range w.specs {
		s.helper, s.tree = "", map[string][]string{}
		w.resolve(s, false)
	}
	w.log.Debug("watching", "watches", len(w.specs), "directories", len(w.refs))
	if !w.quiet {
		emit(event.Status("filesystem", event.Running, event.Low, strconv.Itoa(w.own)+" watches"))
	}
	readyOnce()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-ino.Events:
			if !ok {
				return errors.New("cannot read inotify events: the stream ended")
			}
			// In a burst more are queued: taken without the three-way
			// select (a tenth of the watcher's CPU in a burst), a batch
			// at a time so that ctx and errors are still seen; the batch
			// also tells created what a file is (see typeAhead).
			batch := append(w.batch[:0], ev)
			closed := false
			for range drainBatch {
				ev, ok, more := next(ino.Events)
				if !more {
					break
				}
				if !ok {
					closed = true
					break
				}
				batch = append(batch, ev)
			}
			for i, ev := range batch {
				w.handle(ev, batch[i+1:])
			}
			clear(batch) // the names are garbage once handled
			w.batch = batch
			if closed {
				return errors.New("cannot read inotify events: the stream ended")
			}
			if len(batch) > drainBatch {
				// A full batch: a burst. Let the sinks and clients run
				// before reading on, so the burst waits in the kernel's
				// inotify queue rather than in their queues on the heap.
				// Without it the watcher outran them: with 2 Ps a storm
				// peaked at 39.6 MB and its reader lost events; with 1 P
				// 10 readers of a 100,000-file burst got 150-185 k of
				// 200 k lines (their queues overflowed).
				runtime.Gosched()
			}
		case err, ok := <-ino.Errors:
			switch {
			case !ok:
				return errors.New("cannot read inotify events: the stream ended")
			case errors.Is(err, fsnotify.ErrEventOverflow):
				w.overflowed()
			default:
				w.log.Warn("cannot read inotify events", "err", err)
			}
		}
	}
}

// drainBatch bounds the events Run takes in a row without looking at ctx
// and the error channel.
const drainBatch = 64

// next takes an event from events if one is queued: more is false when
// none is; ok is false when the channel is closed.
func next(events <-chan fsnotify.Event) (ev fsnotify.Event, ok, more bool) {
	select {
	case ev, ok = <-events:
		return ev, ok, true
	default:
		return ev, false, false
	}
}

// handle acts on ev; after holds the events queued behind it.
func (w *Watcher) handle(ev fsnotify.Event, after []fsnotify.Event) {
	p := filepath.Clean(ev.Name) // a watch on "/" names its entries "//x"
	if w.refs[filepath.Dir(p)] == 0 && w.refs[p] == 0 {
		// Queued by a watch dropped since, under a name that is stale
		// when the directory was renamed; the scan of the directory under
		// its new name has reported what was created in it.
		return
	}
	switch {
	case ev.Has(fsnotify.Remove):
		w.removed(p, deleted)
	case ev.Has(fsnotify.Rename):
		w.removed(p, moved)
	}
	if ev.Has(fsnotify.Create) {
		isDir, known := typeAhead(ev.Name, after)
		if !known {
			isDir = isDirNow(p)
		}
		w.created(p, isDir)
	}
	if ev.Has(fsnotify.Write) {
		w.report(p, modified, false, "")
	}
	if ev.Has(fsnotify.Chmod) {
		w.report(p, attrib, w.refs[p] > 0, "")
	}
}

// typeAhead tells whether the entry just created as name is a directory
// from the events queued behind its creation, without a system call (the
// Lstat was a tenth of a burst's CPU; fsnotify does not pass IN_ISDIR on):
// only a file is written, and an entry removed or renamed since is gone, as
// an Lstat would find. known is false when no queued event says.
func typeAhead(name string, after []fsnotify.Event) (isDir, known bool) {
	for _, e := range after {
		if e.Name == name && (e.Has(fsnotify.Write) || e.Has(fsnotify.Remove) || e.Has(fsnotify.Rename)) {
			return false, true
		}
	}
	return false, false
}

// isDirNow tells whether p is a directory (not a link to one) now.
func isDirNow(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

func (w *Watcher) created(p string, isDir bool) {
	w.selfMoves.take(p)
	if !w.scanned.take(p) {
		w.report(p, created, isDir, "")
	}
	for _, s := range w.specs {
		switch {
		case within(s.root, p): // the root or one of its ancestors
			if filepath.Dir(p) == s.helper {
				w.resolve(s, true)
			}
		case isDir && s.holds(filepath.Dir(p)) && s.descend(p):
			w.addTree(s, p, true)
		}
	}
}

func (w *Watcher) removed(p string, k kind) {
	if k == moved && w.selfMoves.take(p) {
		return
	}
	watched := w.refs[p] > 0
	w.report(p, k, watched, "")
	w.scanned.take(p)
	if k == moved && watched && w.refs[filepath.Dir(p)] > 0 {
		w.selfMoves.add(p)
	}
	var lost []*spec
	for _, s := range w.specs {
		if within(s.root, p) && s.holds(s.root) && !s.gone {
			s.gone = true
			w.rootStatus(s, event.Degraded, "watch "+s.name+" ("+s.root+") was removed; it is watched again when it comes back")
		}
		if s.holds(p) {
			w.dropTree(s, p)
		}
		if s.helper != "" && within(s.helper, p) {
			if s.holds(s.root) {
				w.dropTree(s, s.root)
			}
			w.release(s.helper)
			s.helper = ""
			lost = append(lost, s)
		}
	}
	if watched || len(lost) > 0 {
		w.scanned.purge(p)
	}
	for _, s := range lost {
		w.resolve(s, true)
	}
}

// resolve moves s's helper to root's parent, or its nearest existing
// ancestor, and once root's parent is watched brings root's tree up. When
// live, what appeared unseen is reported as found by a scan.
func (w *Watcher) resolve(s *spec, live bool) {
	advanced := false
	for range 64 { // components may appear, or vanish, while we look
		a := existingAncestor(s.root)
		if a == s.helper {
			break
		}
		if !w.acquire(a) {
			if isDir(a) {
				break // cannot be watched: keep what we have
			}
			continue
		}
		if s.helper != "" {
			w.release(s.helper)
		}
		s.helper, advanced = a, true
	}
	if s.helper != filepath.Dir(s.root) && s.root != "/" {
		return
	}
	fi, err := os.Stat(s.root)
	if err != nil {
		return
	}
	if live && advanced && s.inScope(s.root) && !w.scanned.has(s.root) {
		w.report(s.root, created, fi.IsDir(), "scan")
	}
	if fi.IsDir() && s.descend(s.root) {
		w.addTree(s, s.root, live)
	}
	if s.gone && s.holds(s.root) {
		s.gone = false
		w.rootStatus(s, event.Running, "watch "+s.name+" ("+s.root+") is back and watched again")
	}
}

// rootStatus says that a watch's root went away or came back.
func (w *Watcher) rootStatus(s *spec, state event.State, reason string) {
	sev := event.Medium
	if state == event.Running {
		sev = event.Low
	}
	w.log.Info("filesystem watch "+string(state), "watch", s.name, "reason", reason)
	st := event.Status("filesystem", state, sev, reason)
	st.Path = s.root
	w.emit(st)
}

// existingAncestor returns the deepest existing directory above p ("" for "/").
func existingAncestor(p string) string {
	if p == "/" {
		return ""
	}
	a := "/"
	for _, c := range split(filepath.Dir(p)) {
		next := filepath.Join(a, c)
		if !isDir(next) {
			break
		}
		a = next
	}
	return a
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// addTree watches directory d for s, and below it what s descends into.
// Live, a directory already held is left alone and a new one is scanned:
// its entries are reported as found by the scan. Otherwise (start-up, after
// an overflow) the whole tree is walked for missing watches, silently.
func (w *Watcher) addTree(s *spec, d string, live bool) {
	if s.holds(d) {
		if live {
			return
		}
	} else {
		if !w.acquire(d) {
			return
		}
		s.tree[d] = nil
		if parent := filepath.Dir(d); d != s.root && s.holds(parent) {
			s.tree[parent] = append(s.tree[parent], d)
		}
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		return // gone already: its parent reports the removal
	}
	for _, e := range entries {
		p := filepath.Join(d, e.Name())
		if live && s.inScope(p) && !w.scanned.has(p) {
			w.report(p, created, e.IsDir(), "scan")
		}
		if e.IsDir() && s.descend(p) {
			w.addTree(s, p, live)
		}
	}
}

// dropTree forgets directory d and everything s watches below it.
func (w *Watcher) dropTree(s *spec, d string) {
	children := s.tree[d]
	delete(s.tree, d) // first: the children need not leave a list that goes
	for _, c := range children {
		w.dropTree(s, c)
	}
	if sibs, ok := s.tree[filepath.Dir(d)]; ok {
		if i := slices.Index(sibs, d); i >= 0 {
			s.tree[filepath.Dir(d)] = slices.Delete(sibs, i, i+1)
		}
	}
	w.release(d)
}

func (w *Watcher) acquire(d string) bool {
	if w.refs[d] == 0 {
		if err := w.ino.Add(d); err != nil {
			w.addFailed(d, err)
			return false
		}
		if w.writers != nil {
			w.writers.Watch(d)
		}
	}
	w.refs[d]++
	return true
}

func (w *Watcher) release(d string) {
	if w.refs[d]--; w.refs[d] > 0 {
		return
	}
	delete(w.refs, d)
	if w.writers != nil {
		w.writers.Unwatch(d)
	}
	// The kernel drops the watch of a deleted directory by itself.
	if err := w.ino.Remove(d); err != nil {
		w.log.Debug("cannot remove inotify watch", "path", d, "err", err)
	}
}

func (w *Watcher) addFailed(d string, err error) {
	switch {
	case errors.Is(err, unix.ENOSPC):
		// Said each time it happens, at most once a limitEvery: a user
		// who fills a watched tree (~/.ssh is recursive) with
		// directories must not blind the monitor after its first
		// report. The count says how many went unwatched meanwhile.
		w.limitMissed++
		now := w.now()
		if !w.limitSaidAt.IsZero() && now.Sub(w.limitSaidAt) < limitEvery {
			return
		}
		reason := "inotify watch limit reached; raise /proc/sys/fs/inotify/max_user_watches (fs.inotify.max_user_watches)"
		what := "cannot watch " + d
		if w.limitMissed > 1 {
			what += fmt.Sprintf(" nor %d other directories", w.limitMissed-1)
		}
		w.log.Warn("filesystem monitoring degraded", "reason", reason, "path", d, "unwatched", w.limitMissed)
		st := event.Status("filesystem", event.Degraded, event.Medium, what+": "+reason)
		st.Path = d
		w.emit(st)
		w.limitSaidAt, w.limitMissed = now, 0
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR):
		// Gone before the watch landed; its parent reports the removal.
	default:
		w.log.Warn("cannot watch directory", "path", d, "err", err)
	}
}

// limitEvery bounds how often reaching the watch limit is reported.
const limitEvery = time.Minute

// overflowed walks every watch again, so that directories created while
// events were lost get their watches and vanished ones lose them, then
// reports the loss: what changed before the report may be unknown, what
// changes after it is seen.
func (w *Watcher) overflowed() {
	for _, s := range w.specs {
		for d := range s.tree {
			if !isDir(d) {
				w.dropTree(s, d)
			}
		}
		if s.helper != "" && !isDir(s.helper) {
			w.release(s.helper)
			s.helper = ""
		}
		w.resolve(s, false)
	}
	reason := "kernel inotify queue overflowed"
	w.log.Warn("filesystem events lost", "reason", reason)
	w.emit(event.Event{
		Type: event.EventsDropped, Severity: event.High,
		Description: "Filesystem events were lost: the kernel inotify queue overflowed",
		Metadata:    map[string]string{"monitor": "filesystem", "reason": reason},
	})
}
