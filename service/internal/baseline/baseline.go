// Package baseline reports what changed in the sensitive files while
// secmon was not running: inotify sees changes only while it watches, so a
// key added to authorized_keys while the daemon is stopped, or before it
// starts at boot, would never be reported.
//
// At start it takes a fingerprint (size, mtime, inode, and a SHA-256 of
// the content up to 1 MiB) of every sensitive file under the watches —
// SSH material, the persistence spots (package persist), and every file of
// a watch marked sensitive = true — compares it
// with the one the last run left in the state directory, reports each
// difference as a file event "changed while secmon was not running" at the
// file's severity, and keeps the new fingerprints. At a clean stop it takes
// them again, so changes reported while running are not reported twice.
// After a crash, a change made while it ran may be reported again at the
// next start: a duplicate, never a miss. The first run has nothing to
// compare with and only keeps.
package baseline

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/pantheros/secmon/service/internal/atomicfile"
	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
)

// File is the baseline's name in the state directory.
const File = "baseline.jsonl"

// Bounds: files fingerprinted, and the content hashed of each.
const (
	maxFiles = 5000
	maxHash  = 1 << 20
)

// Rule says whether a path is sensitive, and as what: the filesystem
// monitor's rules (a type, or "" with a least severity to raise to).
type Rule func(path string) (typ event.Type, least event.Severity, md map[string]string)

// Config is the monitor's section.
type Config struct {
	StateDirectory string
	Watches        []config.Watch
	Rules          []Rule
}

// Watcher is the baseline monitor.
type Watcher struct {
	cfg   Config
	log   *slog.Logger
	ready chan struct{}
}

// New returns the monitor; it needs a state directory to keep anything.
func New(cfg Config, logger *slog.Logger) (*Watcher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg, log: logger.With("component", "baseline"), ready: make(chan struct{})}, nil
}

// Ready is closed once what changed while secmon was not running is
// reported.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Print is one file's fingerprint.
type Print struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Inode uint64 `json:"inode"`
	Mode  uint32 `json:"mode"`
	Hash  string `json:"sha256,omitempty"`
	// Root marks a watch's root rather than a file: a file that appears
	// under a root the last run watched appeared while secmon was not
	// running; under a root added since, it is only new to secmon.
	Root bool `json:"root,omitempty"`
}

// Run compares, reports, keeps; at the end of ctx it keeps again.
func (w *Watcher) Run(ctx context.Context, emit func(event.Event)) error {
	path := filepath.Join(w.cfg.StateDirectory, File)
	now := w.take()
	var changed []event.Event
	old, err := load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		w.log.Debug("no baseline yet: keeping the first", "files", len(now))
	case err != nil:
		w.log.Warn("cannot read the baseline; what changed while secmon was not running is not known", "err", err)
	default:
		changed = w.diff(old, now)
	}
	files := 0
	for _, p := range now {
		if !p.Root {
			files++
		}
	}
	emit(event.Status("baseline", event.Running, event.Low, fmt.Sprintf(
		"%d sensitive files fingerprinted; %d changes while secmon was not running", files, len(changed))))
	for _, e := range changed {
		emit(e)
	}
	w.keep(path, now)
	close(w.ready)
	<-ctx.Done()
	w.keep(path, w.take())
	return nil
}

func (w *Watcher) keep(path string, prints map[string]Print) {
	var b strings.Builder
	for _, p := range slices.Sorted(mapsKeys(prints)) {
		line, _ := json.Marshal(prints[p])
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := atomicfile.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		w.log.Warn("cannot keep the baseline of sensitive files", "err", err)
	}
}

func mapsKeys(m map[string]Print) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func load(path string) (map[string]Print, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]Print{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		var p Print
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil || p.Path == "" {
			return nil, fmt.Errorf("%s:%d: not a fingerprint", path, n)
		}
		out[p.Path] = p
	}
	return out, sc.Err()
}

// sensitive says whether p is one of the files kept, and its event type
// and least severity when changed.
func (w *Watcher) sensitive(p string) (event.Type, event.Severity, map[string]string, bool) {
	var sev event.Severity
	var md map[string]string
	found := false
	for _, r := range w.cfg.Rules {
		t, least, more := r(p)
		if t != "" {
			return t, max(sev, least), more, true
		}
		if least > 0 {
			sev, md, found = max(sev, least), more, true
		}
	}
	return "", sev, md, found
}

// take fingerprints the sensitive files under the watches.
func (w *Watcher) take() map[string]Print {
	out := map[string]Print{}
	root := func(p string) { out[p] = Print{Path: p, Root: true} }
	var marked bool // the watch being walked is marked sensitive
	add := func(p string, fi fs.FileInfo) {
		if len(out) >= maxFiles || !fi.Mode().IsRegular() {
			return
		}
		if _, _, _, ok := w.sensitive(p); !ok && !marked {
			return
		}
		out[p] = fingerprint(p, fi)
	}
	for _, wt := range w.cfg.Watches {
		marked = wt.Sensitive
		roots := []string{wt.Path}
		if wt.Path == "" {
			roots, _ = filepath.Glob(wt.Pattern)
		}
		for _, r := range roots {
			root(r)
		}
		for _, root := range roots {
			fi, err := os.Lstat(root)
			if err != nil {
				continue
			}
			if !fi.IsDir() {
				add(root, fi)
				continue
			}
			depth := strings.Count(root, "/")
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || len(out) >= maxFiles {
					return filepath.SkipDir
				}
				if d.IsDir() && p != root && !wt.Recursive && strings.Count(p, "/") > depth {
					return filepath.SkipDir
				}
				if d.Type().IsRegular() {
					if fi, err := d.Info(); err == nil {
						add(p, fi)
					}
				}
				return nil
			})
		}
	}
	return out
}

func gone(p string) bool {
	_, err := os.Lstat(p)
	return errors.Is(err, fs.ErrNotExist)
}

func fingerprint(p string, fi fs.FileInfo) Print {
	pr := Print{Path: p, Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Mode: uint32(fi.Mode())}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		pr.Inode = st.Ino
	}
	if fi.Size() <= maxHash {
		if f, err := os.Open(p); err == nil {
			h := sha256.New()
			if _, err := io.Copy(h, io.LimitReader(f, maxHash)); err == nil {
				pr.Hash = hex.EncodeToString(h.Sum(nil))
			}
			f.Close()
		}
	}
	return pr
}

// diff words what changed between the last run's fingerprints and now.
func (w *Watcher) diff(old, now map[string]Print) []event.Event {
	var out []event.Event
	report := func(p string, typ event.Type, sev event.Severity, what string) {
		t, least, md, _ := w.sensitive(p)
		if t != "" {
			typ = t
		}
		sev = max(sev, least)
		m := map[string]string{"found_by": "baseline"}
		for k, v := range md {
			m[k] = v
		}
		out = append(out, event.Event{Type: typ, Path: p, Severity: sev, Metadata: m,
			Description: "Changed while secmon was not running: " + p + " " + what})
	}
	watchedBefore := func(p string) bool {
		for q, o := range old {
			if o.Root && (p == q || strings.HasPrefix(p, q+"/")) {
				return true
			}
		}
		return false
	}
	for _, p := range slices.Sorted(mapsKeys(now)) {
		n := now[p]
		if n.Root {
			continue
		}
		o, had := old[p]
		switch {
		case !had && watchedBefore(p):
			report(p, event.FileCreate, event.Medium, "appeared")
		case !had:
		case o.Hash != n.Hash || o.Size != n.Size || (n.Hash == "" && o.Mtime != n.Mtime):
			report(p, event.FileModify, event.Medium, "was modified")
		case o.Inode != n.Inode:
			report(p, event.FileModify, event.Medium, "was replaced by another file with the same content")
		case o.Mode != n.Mode:
			report(p, event.FileAttrib, event.Medium, fmt.Sprintf("changed mode (%v to %v)", fs.FileMode(o.Mode), fs.FileMode(n.Mode)))
		}
	}
	for _, p := range slices.Sorted(mapsKeys(old)) {
		// Gone from the fingerprints and from the disk: a file still there
		// is only no longer fingerprinted (its watch changed).
		if _, still := now[p]; !still && !old[p].Root && gone(p) {
			report(p, event.FileDelete, event.Medium, "was removed")
		}
	}
	return out
}
