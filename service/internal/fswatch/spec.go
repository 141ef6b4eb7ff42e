package fswatch

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pantheros/secmon/service/internal/config"
)

// spec is one enabled watch, compiled, with the directories it holds.
type spec struct {
	cfg config.Watch
	// name is the watch as configured: its path, else its pattern.
	name string
	// root is the file or directory watched; for a pattern, its longest
	// literal prefix.
	root string
	// glob holds the pattern's components below root when the pattern is
	// the watch; an event path's first len(glob) components below root
	// must match them.
	glob []string
	// filter, when both path and pattern are set, must match the event's
	// full path (if it contains a slash) or its base name.
	filter string

	// helper is the directory watched so that root's creation, removal
	// and renaming are seen: root's parent, or while that does not exist
	// yet its nearest existing ancestor. Empty when nothing is watched.
	helper string
	// tree maps each watched directory at or below root to its watched
	// subdirectories, so that a removed directory drops its subtree. A
	// slice, nil for a leaf: a map per directory cost about 150 bytes
	// each, most of a large tree's bookkeeping.
	tree map[string][]string
	// gone is set while the root, once watched, has been removed: its
	// return is said as a MonitorStatus, as its loss was.
	gone bool
}

func compile(wt config.Watch) (*spec, error) {
	s := &spec{cfg: wt, name: wt.Path, filter: wt.Pattern}
	switch {
	case wt.Path == "" && wt.Pattern == "":
		return nil, fmt.Errorf("a watch needs a path or a pattern")
	case wt.Path != "":
		if !filepath.IsAbs(wt.Path) {
			return nil, fmt.Errorf("path %q is not absolute", wt.Path)
		}
		s.root = filepath.Clean(wt.Path)
	case !filepath.IsAbs(wt.Pattern):
		return nil, fmt.Errorf("pattern %q is not absolute", wt.Pattern)
	default:
		s.name, s.filter = wt.Pattern, ""
		comps := split(filepath.Clean(wt.Pattern))
		i := 0
		for i < len(comps) && !strings.ContainsAny(comps[i], `*?[\`) {
			i++
		}
		s.root, s.glob = "/"+strings.Join(comps[:i], "/"), comps[i:]
	}
	if !validGlob(wt.Pattern) {
		return nil, fmt.Errorf("pattern %q is malformed", wt.Pattern)
	}
	return s, nil
}

// validGlob checks every chunk of pattern: filepath.Match stops at the
// first mismatch and may never reach a malformed tail.
func validGlob(pattern string) bool {
	for i := range len(pattern) {
		if i == 0 || pattern[i] == '*' {
			if _, err := filepath.Match(pattern[i:], ""); err != nil {
				return false
			}
		}
	}
	return true
}

// split returns the components of a clean absolute path ("/" has none).
func split(p string) []string {
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// below returns p's components under root, and false if p is not root or
// inside it.
func below(p, root string) ([]string, bool) {
	switch {
	case p == root:
		return nil, true
	case root == "/":
		return split(p), true
	case strings.HasPrefix(p, root+"/"):
		return strings.Split(p[len(root)+1:], "/"), true
	}
	return nil, false
}

// holds says whether s watches directory d.
func (s *spec) holds(d string) bool {
	_, ok := s.tree[d]
	return ok
}

// within says whether p is dir or inside it. It is on every event's path:
// it allocates nothing.
func within(p, dir string) bool {
	switch {
	case p == dir:
		return true
	case dir == "/":
		return strings.HasPrefix(p, "/")
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}

// relDepth is the number of p's components below root, and false if p is
// not root or inside it: len(below(p, root)) without the split.
func relDepth(p, root string) (int, bool) {
	switch {
	case p == root:
		return 0, true
	case !within(p, root):
		return 0, false
	case root == "/":
		return strings.Count(p, "/"), true
	}
	return strings.Count(p[len(root):], "/"), true
}

// globPrefix says whether rel's first components match the glob's.
func (s *spec) globPrefix(rel []string) bool {
	for i := range min(len(rel), len(s.glob)) {
		if ok, _ := filepath.Match(s.glob[i], rel[i]); !ok {
			return false
		}
	}
	return true
}

// inScope says whether an event on p belongs to this watch: the watched
// directory (every directory the pattern matches) itself, its entries, and
// deeper entries when recursive.
func (s *spec) inScope(p string) bool {
	depth, ok := relDepth(p, s.root)
	if !ok || depth < len(s.glob) || depth-len(s.glob) > 1 && !s.cfg.Recursive {
		return false
	}
	if len(s.glob) > 0 {
		rel, _ := below(p, s.root)
		if !s.globPrefix(rel) {
			return false
		}
	}
	if s.filter == "" {
		return true
	}
	name := filepath.Base(p)
	if strings.Contains(s.filter, "/") {
		name = p
	}
	ok, _ = filepath.Match(s.filter, name)
	return ok
}

// descend says whether directory d needs an inotify watch: it can still
// hold paths in scope.
func (s *spec) descend(d string) bool {
	rel, ok := below(d, s.root)
	return ok && s.globPrefix(rel) && (len(rel) <= len(s.glob) || s.cfg.Recursive)
}
