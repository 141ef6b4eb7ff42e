package fswatch_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/fswatch"
	"github.com/pantheros/secmon/service/internal/persist"
)

func TestNewChecksWatches(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name  string
		watch config.Watch
		err   string
	}{
		{"neither path nor pattern", config.Watch{}, "needs a path or a pattern"},
		{"relative path", config.Watch{Path: "etc/ssh"}, `path "etc/ssh" is not absolute`},
		{"relative pattern", config.Watch{Pattern: "home/*/.ssh"}, `pattern "home/*/.ssh" is not absolute`},
		{"malformed pattern", config.Watch{Pattern: "/home/[a-"}, "malformed"},
		{"malformed pattern tail", config.Watch{Pattern: "/home/x*[a-"}, "malformed"},
		{"malformed filter", config.Watch{Path: "/etc", Pattern: "[a-"}, "malformed"},
		{"disabled watches are not checked", config.Watch{Path: "relative", Enabled: &off}, ""},
		{"path with base-name pattern", config.Watch{Path: "/etc", Pattern: "*.conf"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fswatch.New(fswatch.Config{Watches: []config.Watch{{Path: "/etc/ssh"}, tc.watch}}, nil)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("New: got error %v, want one containing %q", err, tc.err)
			case tc.err != "" && !strings.HasPrefix(err.Error(), "cannot use watch 1: "):
				t.Fatalf("New: error %q does not say which watch", err)
			}
		})
	}
}

// step is something done to the tree and the events it must cause, in order.
type step struct {
	name string
	do   func()
	want []string // "Type path op [dir]", paths relative to the watched directory
}

func runSteps(t *testing.T, h *harness, dir string, steps []step) {
	t.Helper()
	n := 0
	for _, s := range steps {
		s.do()
		n += len(s.want)
		evs := h.waitN(n)
		var got []string
		for _, e := range evs[n-len(s.want):] {
			got = append(got, describe(dir, e))
		}
		if !slices.Equal(got, s.want) {
			t.Fatalf("%s: got\n\t%s\nwant\n\t%s", s.name, strings.Join(got, "\n\t"), strings.Join(s.want, "\n\t"))
		}
	}
	if evs := h.settle(); len(evs) != n {
		t.Fatalf("unexpected events after the last step:\n%s", dump(evs[n:]))
	}
}

func describe(dir string, e event.Event) string {
	rel, _ := filepath.Rel(dir, e.Path)
	s := fmt.Sprintf("%s %s %s", e.Type, rel, e.Metadata["op"])
	if e.Metadata["is_dir"] == "true" {
		s += " dir"
	}
	return s
}

func TestEventKinds(t *testing.T) {
	dir := t.TempDir()
	f, g := filepath.Join(dir, "f"), filepath.Join(dir, "g")
	sub, sub2 := filepath.Join(dir, "sub"), filepath.Join(dir, "sub2")
	writeFile(t, f)
	h := start(t, config.Watch{Path: dir, Recursive: true, Description: "test tree"})

	runSteps(t, h, dir, []step{
		{"read (never an event) and append", func() {
			_, err := os.ReadFile(f)
			must(t, err)
			appendFile(t, f)
		}, []string{"FileModify f WRITE"}},
		{"chmod", func() { must(t, os.Chmod(f, 0o600)) }, []string{"FileAttrib f CHMOD"}},
		{"rename", func() { must(t, os.Rename(f, g)) }, []string{"FileMove f RENAME", "FileCreate g CREATE"}},
		{"remove", func() { must(t, os.Remove(g)) }, []string{"FileDelete g REMOVE"}},
		{"mkdir and a file inside", func() {
			must(t, os.Mkdir(sub, 0o755))
			writeFile(t, filepath.Join(sub, "x"))
		}, []string{"FileCreate sub CREATE dir", "FileCreate sub/x CREATE"}},
		// The directory's own watch and its parent's both see these.
		{"chmod a watched directory", func() { must(t, os.Chmod(sub, 0o700)) }, []string{"FileAttrib sub CHMOD dir"}},
		{"rename a watched directory", func() { must(t, os.Rename(sub, sub2)) },
			[]string{"FileMove sub RENAME dir", "FileCreate sub2 CREATE dir", "FileCreate sub2/x CREATE"}},
		{"the renamed directory is watched under its new name", func() { must(t, os.RemoveAll(sub2)) },
			[]string{"FileDelete sub2/x REMOVE", "FileDelete sub2 REMOVE dir"}},
	})

	e := h.got[0]
	want := event.Event{Type: event.FileModify, Path: f, Severity: event.Low,
		Description: "Modified " + f + " (test tree)",
		Metadata:    map[string]string{"watch": dir, "description": "test tree", "op": "WRITE"}}
	if fmt.Sprint(e) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", e, want)
	}
	if e := h.got[len(h.got)-3]; e.Metadata["found_by"] != "scan" {
		t.Errorf("the content of a directory renamed into the tree: got %v, want found_by=scan", e.Metadata)
	}
}

func TestSeverities(t *testing.T) {
	for _, tc := range []struct {
		name     string
		severity event.Severity
		path     string
		typ      event.Type
		want     event.Severity
	}{
		{"default", 0, "notes/x", event.FileCreate, event.Medium},
		{"the watch's severity wins", event.High, "notes/x", event.FileCreate, event.High},
		{"a lower watch severity too", event.Low, "notes/x", event.FileCreate, event.Low},
		{"a rule", 0, "keys/k1", event.SshAccess, event.High},
		{"a rule gives the least severity", event.Low, "keys/k1", event.SshAccess, event.High},
		{"a higher watch severity wins over a rule", event.Critical, "keys/k1", event.SshAccess, event.Critical},
		{"the rule holds in a guest's watch", 0, "guest/k2", event.SshAccess, event.High},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, tc.path)
			mkdirAll(t, filepath.Dir(p))
			h := startWith(t, options{rules: []fswatch.Rule{keyRule}, guests: []fswatch.Guest{{Monitor: "test",
				Watches: []config.Watch{{Path: filepath.Join(dir, "guest")}}}}},
				config.Watch{Path: dir, Recursive: true, Severity: tc.severity})
			writeFile(t, p)
			e := h.waitEvent(tc.typ, p)
			if e.Severity != tc.want {
				t.Errorf("severity %v, want %v", e.Severity, tc.want)
			}
			if tc.typ == event.SshAccess && e.Metadata["key"] != filepath.Base(p) {
				t.Errorf("metadata %v, want the rule's key=%s", e.Metadata, filepath.Base(p))
			}
		})
	}
}

// keyRule stands in for the ssh monitor's rule: files named k* are keys.
func keyRule(p string) (event.Type, event.Severity, map[string]string) {
	if strings.HasPrefix(filepath.Base(p), "k") {
		return event.SshAccess, event.High, map[string]string{"key": filepath.Base(p)}
	}
	return "", 0, nil
}

// The monitor says it runs and how many of the watches are its own; a
// guest's are not counted, and switched off it says nothing.
func TestStatus(t *testing.T) {
	for _, off := range []bool{false, true} {
		dir := t.TempDir()
		w, err := fswatch.New(fswatch.Config{Off: off, Watches: []config.Watch{{Path: dir}, {Path: dir + "/b"}},
			Guests: []fswatch.Guest{{Monitor: "test", Watches: []config.Watch{{Path: dir + "/c"}}}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		evs := make(chan event.Event, 16)
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx, func(e event.Event) { evs <- e }) }()
		<-w.Ready()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		close(evs)
		var got []string
		for e := range evs {
			m, st, r, _ := event.StatusOf(e)
			got = append(got, fmt.Sprintf("%s %s %s", m, st, r))
		}
		want := []string{"filesystem running 2 watches"}
		if off {
			want = nil
		}
		if !slices.Equal(got, want) {
			t.Errorf("off=%v: got %q, want %q", off, got, want)
		}
	}
}

func TestCoalesceWrites(t *testing.T) {
	dir := t.TempDir()
	f, x := filepath.Join(dir, "f"), filepath.Join(dir, "x")
	writeFile(t, f)
	writeFile(t, x)
	var clock atomic.Int64
	clock.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	var advance atomic.Bool
	h := startWith(t, options{
		clock: func() time.Time { return time.Unix(0, clock.Load()) },
		onEmit: func(e event.Event) {
			if e.Path == f && advance.CompareAndSwap(true, false) {
				clock.Add(int64(time.Second))
			}
		},
	}, config.Watch{Path: f})
	// Writes to x, in the same directory but not watched, keep the kernel
	// from merging the writes to f into one event.
	writes := func(n int) {
		for range n {
			appendFile(t, f)
			appendFile(t, x)
		}
	}
	modifies := func(evs []event.Event) (n int) {
		for _, e := range evs {
			if e.Type != event.FileModify || e.Path != f {
				t.Fatalf("unexpected event %s %s", e.Type, e.Path)
			}
			n++
		}
		return n
	}

	writes(6)
	if n := modifies(h.settle()); n != 1 {
		t.Fatalf("6 writes within a second: %d FileModify, want 1", n)
	}
	// The first write is reported and moves the clock on by a second, so
	// the next one is reported too, and the one after is not.
	advance.Store(true)
	writes(3)
	if n := modifies(h.settle()); n != 3 {
		t.Fatalf("then 3 writes across a second: %d FileModify in all, want 3", n)
	}
}

func TestScope(t *testing.T) {
	for _, tc := range []struct {
		name  string
		watch func(dir string) config.Watch
		make  []string // created in order; a trailing slash makes a directory
		want  []string // paths reported, in any order
	}{
		{"directory",
			func(d string) config.Watch { return config.Watch{Path: d} },
			[]string{"f", "sub/", "sub/g"},
			[]string{"f", "sub"}},
		{"recursive directory",
			func(d string) config.Watch { return config.Watch{Path: d, Recursive: true} },
			[]string{"f", "sub/", "sub/g", "sub/deeper/", "sub/deeper/h"},
			[]string{"f", "sub", "sub/g", "sub/deeper", "sub/deeper/h"}},
		{"single file",
			func(d string) config.Watch { return config.Watch{Path: d + "/f"} },
			[]string{"e", "f", "g"},
			[]string{"f"}},
		{"missing directory",
			func(d string) config.Watch { return config.Watch{Path: d + "/a/b/c", Recursive: true} },
			[]string{"a/", "a/n", "a/b/", "a/b/n", "a/b/c/", "a/b/c/k"},
			[]string{"a/b/c", "a/b/c/k"}},
		{"pattern",
			func(d string) config.Watch { return config.Watch{Pattern: d + "/*/.ssh"} },
			[]string{"u/", "u/other", "u/.ssh/", "u/.ssh/k", "u/.ssh/sub/", "u/.ssh/sub/deep", "v/", "v/.sshx/", "v/.sshx/k"},
			[]string{"u/.ssh", "u/.ssh/k", "u/.ssh/sub"}},
		{"recursive pattern",
			func(d string) config.Watch { return config.Watch{Pattern: d + "/*/.ssh", Recursive: true} },
			[]string{"u/", "u/other", "u/.ssh/", "u/.ssh/k", "u/.ssh/sub/", "u/.ssh/sub/deep", "v/", "v/.sshx/", "v/.sshx/k"},
			[]string{"u/.ssh", "u/.ssh/k", "u/.ssh/sub", "u/.ssh/sub/deep"}},
		{"pattern with a literal tail",
			func(d string) config.Watch { return config.Watch{Pattern: d + "/h*/x/y"} },
			[]string{"home/", "home/x/", "home/x/y", "other/", "other/x/", "other/x/y"},
			[]string{"home/x/y"}},
		{"path with a base-name pattern",
			func(d string) config.Watch { return config.Watch{Path: d, Pattern: "*.conf", Recursive: true} },
			[]string{"a.conf", "b.txt", "sub/", "sub/c.conf"},
			[]string{"a.conf", "sub/c.conf"}},
		{"path with a full pattern",
			func(d string) config.Watch { return config.Watch{Path: d, Pattern: d + "/*/keep", Recursive: true} },
			[]string{"x/", "x/keep", "x/drop", "keep"},
			[]string{"x/keep"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			h := start(t, tc.watch(dir))
			for _, p := range tc.make {
				if strings.HasSuffix(p, "/") {
					mkdirAll(t, filepath.Join(dir, p))
				} else {
					writeFile(t, filepath.Join(dir, p))
				}
			}
			var got []string
			for p, n := range creations(h.settle()) {
				rel, _ := filepath.Rel(dir, p)
				for range n {
					got = append(got, rel)
				}
			}
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("reported %q, want %q", got, tc.want)
			}
			if len(h.got) != len(got) {
				t.Errorf("events other than creations:\n%s", dump(h.got))
			}
		})
	}
}

// TestRecursiveNestedCreations is what inotifywait -r gets wrong: files
// created in directories before their watch lands.
func TestRecursiveNestedCreations(t *testing.T) {
	t.Run("tempdir", func(t *testing.T) { testNestedCreations(t, t.TempDir()) })
	t.Run("tmpfs", func(t *testing.T) {
		var st unix.Statfs_t
		if err := unix.Statfs("/dev/shm", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
			t.Skip("/dev/shm is not a tmpfs here")
		}
		dir, err := os.MkdirTemp("/dev/shm", "fswatch-test-")
		must(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		testNestedCreations(t, dir)
	})
}

func testNestedCreations(t *testing.T, root string) {
	h := start(t, config.Watch{Path: root, Recursive: true})
	want := map[string]bool{}
	for round := range 10 {
		deep := filepath.Join(root, fmt.Sprintf("r%d", round), "a", "b", "c", "d")
		mkdirAll(t, deep)
		for dir := deep; dir != root; dir = filepath.Dir(dir) {
			want[dir] = true
			for _, name := range []string{"f1", "f2", "f3"} {
				writeFile(t, filepath.Join(dir, name))
				want[filepath.Join(dir, name)] = true
			}
		}
	}
	h.waitFor(fmt.Sprintf("%d creations", len(want)), func(evs []event.Event) bool {
		n := creations(evs)
		for p := range want {
			if n[p] == 0 {
				return false
			}
		}
		return true
	})
	for p, n := range creations(h.settle()) {
		if !want[p] || n != 1 {
			t.Errorf("%s reported created %d times", p, n)
		}
	}
}

func TestMissingPathAppears(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "x", "y", "target")
	h := start(t, config.Watch{Path: target, Recursive: true})

	mkdirAll(t, filepath.Dir(target))
	writeFile(t, filepath.Join(base, "x", "noise"))
	if evs := h.settle(); len(evs) > 0 {
		t.Fatalf("events from helper directories:\n%s", dump(evs))
	}
	mkdirAll(t, filepath.Join(target, "sub"))
	writeFile(t, filepath.Join(target, "sub", "f"))
	writeFile(t, filepath.Join(target, "g"))
	want := []string{target, filepath.Join(target, "sub"), filepath.Join(target, "sub", "f"), filepath.Join(target, "g")}
	for _, p := range want {
		h.waitEvent(event.FileCreate, p)
	}

	// A deleted root is waited for again, from higher up, and its loss and
	// return are said as MonitorStatus events.
	must(t, os.RemoveAll(filepath.Join(base, "x")))
	h.waitEvent(event.FileDelete, target)
	if st := h.waitEvent(event.MonitorStatus, target); st.Metadata["state"] != "degraded" || !strings.Contains(st.Description, "removed") {
		t.Fatalf("got %+v, want the watch's root reported removed", st)
	}
	mkdirAll(t, target)
	writeFile(t, filepath.Join(target, "h"))
	h.waitEvent(event.FileCreate, filepath.Join(target, "h"))
	h.waitFor("the root back", func(evs []event.Event) bool {
		for _, e := range evs {
			if e.Type == event.MonitorStatus && e.Metadata["state"] == "running" && e.Path == target {
				return true
			}
		}
		return false
	})

	n := creations(h.settle())
	for _, p := range want {
		if n[p] != 1+btoi(p == target) {
			t.Errorf("%s reported created %d times", p, n[p])
		}
	}
	for _, e := range h.got {
		if e.Type != event.MonitorStatus && !strings.HasPrefix(e.Path, target) {
			t.Errorf("event outside the watch: %s %s", e.Type, e.Path)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSingleFileAtomicReplace(t *testing.T) {
	home := t.TempDir()
	rc := filepath.Join(home, ".bashrc")
	writeFile(t, rc)
	h := start(t, config.Watch{Path: rc, Description: "login shell start-up file"})

	runSteps(t, h, home, []step{
		{"append", func() { appendFile(t, rc) }, []string{"FileModify .bashrc WRITE"}},
		{"editor's atomic replace", func() {
			tmp := filepath.Join(home, ".bashrc.swp")
			must(t, os.WriteFile(tmp, []byte("evil\n"), 0o644))
			must(t, os.Rename(tmp, rc))
		}, []string{"FileCreate .bashrc CREATE"}},
		{"other files in the directory", func() {
			writeFile(t, filepath.Join(home, ".profile"))
			must(t, os.Mkdir(filepath.Join(home, ".config"), 0o755))
		}, nil},
		{"remove", func() { must(t, os.Remove(rc)) }, []string{"FileDelete .bashrc REMOVE"}},
	})
	if e := h.got[1]; e.Description != "Created "+rc+" (login shell start-up file)" {
		t.Errorf("description %q", e.Description)
	}
}

func TestPatternPicksUpNewHomes(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	mkdirAll(t, filepath.Join(home, "alice", ".ssh"))
	pattern := home + "/*/.ssh"
	h := start(t, config.Watch{Pattern: pattern, Recursive: true, Description: "users' SSH keys"})

	mkdirAll(t, filepath.Join(home, "newuser", ".ssh"))
	keys := filepath.Join(home, "newuser", ".ssh", "authorized_keys")
	must(t, os.WriteFile(keys, []byte("ssh-ed25519 AAAA… attacker\n"), 0o600))
	e := h.waitEvent(event.FileCreate, keys)
	if e.Metadata["watch"] != pattern || e.Metadata["description"] != "users' SSH keys" {
		t.Errorf("got %s %v", e.Severity, e.Metadata)
	}
	writeFile(t, filepath.Join(home, "alice", ".ssh", "id_ed25519"))
	h.waitEvent(event.FileCreate, filepath.Join(home, "alice", ".ssh", "id_ed25519"))
	writeFile(t, filepath.Join(home, "newuser", "notes"))
	for _, e := range h.settle() {
		if !strings.Contains(e.Path, "/.ssh") {
			t.Errorf("event outside the pattern: %s %s", e.Type, e.Path)
		}
	}
}

// TestSharedDirectory checks the reference counts: a directory stays watched
// while any watch needs it.
func TestSharedDirectory(t *testing.T) {
	base := t.TempDir()
	later := filepath.Join(base, "later", "deep")
	h := start(t,
		config.Watch{Path: later, Description: "later"},
		config.Watch{Path: base, Recursive: true, Description: "tree"})

	// "later" moves its helper off base, which "tree" still needs.
	mkdirAll(t, filepath.Dir(later))
	h.waitEvent(event.FileCreate, filepath.Dir(later))
	writeFile(t, filepath.Join(base, "f"))
	h.waitEvent(event.FileCreate, filepath.Join(base, "f"))

	mkdirAll(t, later)
	writeFile(t, filepath.Join(later, "k"))
	if e := h.waitEvent(event.FileCreate, filepath.Join(later, "k")); e.Metadata["watch"] != later {
		t.Errorf("reported for watch %q, want the first that matches, %q", e.Metadata["watch"], later)
	}
	// Removing later's root leaves base/later watched for "tree".
	must(t, os.RemoveAll(later))
	h.waitEvent(event.FileDelete, later)
	writeFile(t, filepath.Join(base, "later", "g"))
	h.waitEvent(event.FileCreate, filepath.Join(base, "later", "g"))
}

func TestRenameInsideTree(t *testing.T) {
	base := t.TempDir()
	a, c := filepath.Join(base, "a"), filepath.Join(base, "c")
	mkdirAll(t, filepath.Join(a, "b"))
	h := start(t, config.Watch{Path: base, Recursive: true})

	must(t, os.Rename(a, c))
	writeFile(t, filepath.Join(c, "b", "f"))
	h.waitEvent(event.FileCreate, filepath.Join(c, "b", "f"))
	mkdirAll(t, filepath.Join(a, "b"))
	writeFile(t, filepath.Join(a, "b", "f"))
	h.waitEvent(event.FileCreate, filepath.Join(a, "b", "f"))

	n := map[string]int{}
	for _, e := range h.settle() {
		rel, _ := filepath.Rel(base, e.Path)
		n[string(e.Type)+" "+rel]++
	}
	for _, k := range []string{"FileMove a", "FileCreate c", "FileCreate c/b", "FileCreate c/b/f", "FileCreate a", "FileCreate a/b", "FileCreate a/b/f"} {
		if n[k] != 1 {
			t.Errorf("%s: %d events, want 1", k, n[k])
		}
	}
	if len(n) != 7 || t.Failed() {
		t.Errorf("unexpected events:\n%s", dump(h.got))
	}
}

// A rule that returns no type only raises the severity (a persistence
// spot): a plain write to an autostart entry is Medium, not Low, and a
// write to an ordinary file stays Low.
func TestRaiseOnlyRule(t *testing.T) {
	root := t.TempDir()
	spot := filepath.Join(root, ".config", "autostart")
	mkdirAll(t, spot)
	entry := filepath.Join(spot, "app.desktop")
	plain := filepath.Join(root, "notes.txt")
	writeFile(t, entry)
	writeFile(t, plain)
	h := startWith(t, options{rules: []fswatch.Rule{persist.Classify}}, config.Watch{Path: root, Recursive: true})
	appendTo := func(p string) {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("Exec=/tmp/evil\n")
		f.Close()
	}
	appendTo(entry)
	if e := h.waitEvent(event.FileModify, entry); e.Severity != event.Medium {
		t.Errorf("a write to %s is %s, want Medium", entry, e.Severity)
	}
	appendTo(plain)
	if e := h.waitEvent(event.FileModify, plain); e.Severity != event.Low {
		t.Errorf("a write to %s is %s, want Low", plain, e.Severity)
	}
}

// touch of a new file is one action: one FileCreate, not a FileCreate and
// then a FileAttrib for the times it sets.
func TestTouchIsOneEvent(t *testing.T) {
	if _, err := exec.LookPath("touch"); err != nil {
		t.Skip("touch (coreutils) is not installed")
	}
	root := t.TempDir()
	h := start(t, config.Watch{Path: root, Recursive: true})
	f := filepath.Join(root, "authorized_keys")
	if out, err := exec.Command("touch", f).CombinedOutput(); err != nil {
		t.Fatalf("touch: %v %s", err, out)
	}
	h.waitEvent(event.FileCreate, f)
	after := filepath.Join(root, "after")
	writeFile(t, after)
	h.waitEvent(event.FileCreate, after)
	n := 0
	for _, e := range h.got {
		if e.Path == f {
			n++
		}
	}
	if n != 1 {
		t.Errorf("touch gave %d events:\n%s", n, dump(h.got))
	}
}

// TestTypeOfQueuedCreations holds the watcher while entries are created,
// so that their events are taken as one batch, where a file's type comes
// from the events behind its creation rather than from an Lstat: the
// directories must still be told apart and watched.
func TestTypeOfQueuedCreations(t *testing.T) {
	root := t.TempDir()
	hold, release := filepath.Join(root, "hold"), make(chan struct{})
	h := startWith(t, options{onEmit: func(e event.Event) {
		if e.Path == hold {
			<-release
		}
	}}, config.Watch{Path: root, Recursive: true})
	writeFile(t, hold)
	must(t, os.Mkdir(filepath.Join(root, "d1"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "f1"), []byte("written"), 0o644))
	must(t, os.Mkdir(filepath.Join(root, "d2"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "g"), []byte("gone"), 0o644))
	must(t, os.Remove(filepath.Join(root, "g")))
	must(t, os.Mkdir(filepath.Join(root, "gonedir"), 0o755))
	must(t, os.Remove(filepath.Join(root, "gonedir")))
	close(release)
	for _, d := range []string{"d1", "d2"} {
		e := h.waitEvent(event.FileCreate, filepath.Join(root, d))
		if e.Metadata["is_dir"] != "true" {
			t.Errorf("%s: is_dir = %q, want true", d, e.Metadata["is_dir"])
		}
		writeFile(t, filepath.Join(root, d, "inside"))
		h.waitEvent(event.FileCreate, filepath.Join(root, d, "inside")) // it is watched
	}
	for p, n := range map[string]int{"f1": 1, "g": 1, "gonedir": 1} {
		if got := creations(h.settle())[filepath.Join(root, p)]; got != n {
			t.Errorf("%s reported created %d times, want %d", p, got, n)
		}
	}
	for _, e := range h.got {
		if base := filepath.Base(e.Path); (base == "f1" || base == "g") && e.Metadata["is_dir"] != "" {
			t.Errorf("%s %s: is_dir = %q, want none", e.Type, e.Path, e.Metadata["is_dir"])
		}
	}
}
