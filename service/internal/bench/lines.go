package bench

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// lineInfo is what a reader needs from one JSON line of the socket.
type lineInfo struct {
	Type string
	Path string
	// Dropped is the count of an EventsDropped line (metadata "dropped").
	Dropped uint64
	// Monitor is an EventsDropped line's metadata "monitor": "filesystem"
	// when the kernel's inotify queue overflowed, empty for a client queue.
	Monitor string
}

// parseLine reads type and path from one of the daemon's JSON lines without
// decoding all of it: ten readers each decoding a 100,000-event burst would
// make the bench, not the daemon, the bottleneck on a small machine. The
// keys are found by their first occurrence, which is safe because "type"
// (inside event_type) and "path" come before any string a file name or a
// description could put in the line, and a quote inside a string value is
// always escaped. Lines with escapes in those values, and EventsDropped
// lines, are decoded in full.
func parseLine(line []byte) (lineInfo, bool) {
	typ, ok1 := stringAfter(line, `"type":"`)
	path, ok2 := stringAfter(line, `"path":"`)
	if ok1 && ok2 && typ != "EventsDropped" {
		return lineInfo{Type: typ, Path: path}, true
	}
	var full struct {
		EventType struct {
			Type string `json:"type"`
		} `json:"event_type"`
		Path    string `json:"path"`
		Details struct {
			Metadata map[string]string `json:"metadata"`
		} `json:"details"`
	}
	if err := json.Unmarshal(line, &full); err != nil || full.EventType.Type == "" {
		return lineInfo{}, false
	}
	li := lineInfo{Type: full.EventType.Type, Path: full.Path}
	if li.Type == "EventsDropped" {
		li.Dropped, _ = strconv.ParseUint(full.Details.Metadata["dropped"], 10, 64)
		li.Monitor = full.Details.Metadata["monitor"]
	}
	return li, true
}

// stringAfter returns the JSON string that starts right after key, when it
// has no escapes.
func stringAfter(line []byte, key string) (string, bool) {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// Layout names the paths of the workload program (see its doc): flat files
// ROOT/s{k}/f{i}, nested chains ROOT/n{j}/a/b/c/d/f, and ROOT/DONE.
type Layout struct {
	Root string
}

// pathKind is what a path of the layout is.
type pathKind int

const (
	otherPath pathKind = iota
	flatFile           // index: the file number
	chainPath          // index: the chain; level 0 (n{j}) to 4 (…/d), 5 the file
	sentinel
)

// chainLevels are the names under n{j}: five directories and the file.
var chainLevels = [...]string{"", "a", "b", "c", "d", "f"}

// Classify tells which workload path p is.
func (l Layout) Classify(p string) (kind pathKind, index, level int) {
	rel, ok := strings.CutPrefix(p, l.Root+"/")
	if !ok {
		return otherPath, 0, 0
	}
	if rel == "DONE" {
		return sentinel, 0, 0
	}
	first, rest, _ := strings.Cut(rel, "/")
	switch {
	case strings.HasPrefix(first, "s") && strings.HasPrefix(rest, "f") && !strings.Contains(rest, "/"):
		if _, err := strconv.Atoi(first[1:]); err != nil {
			return otherPath, 0, 0
		}
		n, err := strconv.Atoi(rest[1:])
		if err != nil || n < 0 {
			return otherPath, 0, 0
		}
		return flatFile, n, 0
	case strings.HasPrefix(first, "n"):
		j, err := strconv.Atoi(first[1:])
		if err != nil || j < 0 {
			return otherPath, 0, 0
		}
		want := ""
		for lv := range chainLevels {
			if lv > 0 {
				want = strings.TrimPrefix(want+"/"+chainLevels[lv], "/")
			}
			if rest == want {
				return chainPath, j, lv
			}
		}
	}
	return otherPath, 0, 0
}

// parseInotifyLine reads a line of inotifywait --format '%e %w%f': the
// comma-separated events, a space, the path (which may hold spaces).
func parseInotifyLine(line string) (events []string, path string, ok bool) {
	ev, path, ok := strings.Cut(line, " ")
	if !ok || ev == "" {
		return nil, "", false
	}
	return strings.Split(ev, ","), path, true
}

// op is what a tally counts: a creation, a deletion, or anything else.
type op int

const (
	opOther op = iota
	opCreate
	opDelete
)

// secmonOp maps a secmon event type to the op it reports.
func secmonOp(typ string) op {
	switch typ {
	case "FileCreate":
		return opCreate
	case "FileDelete":
		return opDelete
	}
	return opOther
}

// inotifyOp maps inotifywait's events to the op they report.
func inotifyOp(events []string) op {
	for _, e := range events {
		switch e {
		case "CREATE", "MOVED_TO":
			return opCreate
		case "DELETE":
			return opDelete
		}
	}
	return opOther
}

// tally is what one reader saw of a workload burst, by path, so that what
// it missed can be counted exactly.
type tally struct {
	layout  Layout
	events  int
	created []bool    // flat file i's creation seen
	deleted []bool    // flat file i's deletion seen
	chains  [][6]bool // chain j's level seen created
	done    bool      // the sentinel seen
	dropped uint64    // events a client queue dropped (EventsDropped)
	kernel  int       // kernel queue overflows reported
	last    int64     // unix ns of the last event
}

func newTally(l Layout, files, chains int) *tally {
	return &tally{layout: l, created: make([]bool, files), deleted: make([]bool, files), chains: make([][6]bool, chains)}
}

// add counts one event seen at unix ns now.
func (t *tally) add(o op, path string, now int64) {
	t.events++
	t.last = now
	kind, i, level := t.layout.Classify(path)
	switch kind {
	case flatFile:
		if i < len(t.created) {
			switch o {
			case opCreate:
				t.created[i] = true
			case opDelete:
				t.deleted[i] = true
			}
		}
	case chainPath:
		if o == opCreate && i < len(t.chains) {
			t.chains[i][level] = true
		}
	case sentinel:
		if o == opCreate {
			t.done = true
		}
	}
}

// missed counts what was not seen: flat creations and deletions, chains
// whose file was not seen created, and chain paths (directories and files).
func (t *tally) missed() (creates, deletes, chainFiles, chainPaths int) {
	for i := range t.created {
		if !t.created[i] {
			creates++
		}
		if !t.deleted[i] {
			deletes++
		}
	}
	for _, c := range t.chains {
		if !c[len(c)-1] {
			chainFiles++
		}
		for _, seen := range c {
			if !seen {
				chainPaths++
			}
		}
	}
	return
}
