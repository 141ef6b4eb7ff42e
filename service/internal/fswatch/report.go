package fswatch

import (
	"maps"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
)

// kind is what happened to a path.
type kind int

const (
	created kind = iota
	modified
	deleted
	moved
	attrib
)

var kinds = [...]struct {
	typ      event.Type
	severity event.Severity
	op, verb string
}{
	created:  {event.FileCreate, event.Medium, "CREATE", "Created"},
	modified: {event.FileModify, event.Low, "WRITE", "Modified"},
	deleted:  {event.FileDelete, event.Medium, "REMOVE", "Deleted"},
	moved:    {event.FileMove, event.Medium, "RENAME", "Moved away"},
	attrib:   {event.FileAttrib, event.Low, "CHMOD", "Changed attributes of"},
}

// coalesceWindow bounds write floods to one FileModify per path and window.
const coalesceWindow = time.Second

// report emits k on p on behalf of the first watch that has p in scope.
func (w *Watcher) report(p string, k kind, isDir bool, foundBy string) {
	var s *spec
	for _, c := range w.specs {
		if c.inScope(p) {
			s = c
			break
		}
	}
	if s == nil {
		return
	}
	info := kinds[k]
	typ, sev := info.typ, info.severity
	if s.cfg.Severity != 0 {
		sev = s.cfg.Severity
	}
	// The rules are asked first: a write the rules describe anew (the ssh
	// rule names a key the write added) is news even right after the
	// creation or write it would otherwise be folded into.
	var ruled map[string]string // most events have none: made when needed
	sensitive := false
	for _, classify := range w.rules {
		t, least, more := classify(p)
		sensitive = sensitive || t != "" || least > 0
		if len(more) > 0 {
			if ruled == nil {
				ruled = make(map[string]string, len(more))
			}
			maps.Copy(ruled, more)
		}
		if t == "" {
			sev = max(sev, least) // raise only, and ask the next rule
			continue
		}
		typ, sev = t, max(s.cfg.Severity, least)
		break
	}
	now := w.now()
	if p == w.last.path && now.Sub(w.last.at) < coalesceWindow && maps.Equal(ruled, w.last.ruled) &&
		(k == modified && (w.last.kind == modified || w.last.kind == created) ||
			// touch creates, then sets the times: one action, one event;
			// and a watched directory whose parent is watched too
			// reports its attribute change twice
			k == attrib && (w.last.kind == attrib || w.last.kind == created)) {
		return
	}
	w.last.path, w.last.kind, w.last.at, w.last.ruled = p, k, now, ruled

	md := map[string]string{"watch": s.name, "op": info.op}
	if s.cfg.Description != "" {
		md["description"] = s.cfg.Description
	}
	if isDir {
		md["is_dir"] = "true"
	}
	if foundBy != "" {
		md["found_by"] = foundBy
		w.scanned.add(p)
	}
	maps.Copy(md, ruled)
	desc := info.verb + " " + p
	if s.cfg.Description != "" {
		desc += " (" + s.cfg.Description + ")"
	}
	var proc *event.Process
	if sensitive && w.writers != nil && foundBy == "" { // a scan finds what came before the mark
		var more map[string]string
		proc, more = w.writers.Attribute(p, now)
		maps.Copy(md, more)
	}
	w.emit(event.Event{Type: typ, Path: p, Severity: sev, Description: desc, Metadata: md, Process: proc})
}

// pathSet is a set of paths bounded to max entries: adding to a full set
// forgets the oldest entry.
type pathSet struct {
	max  int
	seq  uint64
	m    map[string]uint64
	ring []pathSeq
	next int
}

type pathSeq struct {
	path string
	seq  uint64
}

// newPathSet returns an empty set; its ring grows as it fills, so an idle
// watcher does not hold max empty entries.
func newPathSet(max int) *pathSet {
	return &pathSet{max: max, m: map[string]uint64{}}
}

func (s *pathSet) add(p string) {
	s.seq++
	s.m[p] = s.seq
	if len(s.ring) < s.max {
		s.ring = append(s.ring, pathSeq{p, s.seq})
		return
	}
	if old := s.ring[s.next]; s.m[old.path] == old.seq {
		delete(s.m, old.path)
	}
	s.ring[s.next] = pathSeq{p, s.seq}
	s.next = (s.next + 1) % s.max
}

func (s *pathSet) has(p string) bool {
	_, ok := s.m[p]
	return ok
}

// take removes p and says whether it was there.
func (s *pathSet) take(p string) bool {
	_, ok := s.m[p]
	delete(s.m, p)
	return ok
}

// purge removes dir and everything inside it.
func (s *pathSet) purge(dir string) {
	for p := range s.m {
		if within(p, dir) {
			delete(s.m, p)
		}
	}
}
