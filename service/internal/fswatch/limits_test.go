package fswatch_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/event"
)

// TestOverflow stalls emit until the kernel's inotify queue overflows.
func TestOverflow(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	must(t, err)
	queue, err := strconv.Atoi(strings.TrimSpace(string(b)))
	must(t, err)

	dir := t.TempDir()
	f, x := filepath.Join(dir, "f"), filepath.Join(dir, "x")
	writeFile(t, f)
	writeFile(t, x)
	stalled, release := make(chan struct{}), make(chan struct{})
	var once, unblock sync.Once
	t.Cleanup(func() { unblock.Do(func() { close(release) }) })
	h := startWith(t, options{onEmit: func(event.Event) {
		once.Do(func() { close(stalled); <-release })
	}}, config.Watch{Path: dir, Recursive: true})

	appendFile(t, f)
	<-stalled
	// Alternate files so that the kernel cannot merge the events. The
	// Watcher's buffer and fsnotify's read buffer hold up to 4096 each.
	var files [2]*os.File
	for i, p := range []string{f, x} {
		files[i], err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		must(t, err)
		defer files[i].Close()
	}
	for i := range queue + 3*4096 {
		_, err := files[i%2].Write([]byte("x"))
		must(t, err)
	}
	// The queue is full: this creation is lost, and the directory is
	// watched only if the Watcher walks its trees again.
	sub := filepath.Join(dir, "sub")
	mkdirAll(t, sub)
	unblock.Do(func() { close(release) })

	e := h.waitEvent(event.EventsDropped, "")
	if e.Severity != event.High || e.Metadata["reason"] != "kernel inotify queue overflowed" || e.Metadata["monitor"] != "filesystem" {
		t.Errorf("got %s %v", e.Severity, e.Metadata)
	}
	// And it goes on, in the directory created meanwhile too.
	writeFile(t, filepath.Join(sub, "after"))
	h.waitEvent(event.FileCreate, filepath.Join(sub, "after"))
}

const childEnv = "FSWATCH_TEST_CHILD"

// TestWatchLimit runs the Watcher in a user namespace of its own, where it
// may lower max_inotify_watches without touching the machine's limit.
func TestWatchLimit(t *testing.T) {
	if os.Getenv(childEnv) == "watch-limit" {
		watchLimitChild(t)
		return
	}
	if os.Getenv(childEnv) != "" {
		t.Skip("in another test's child")
	}
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		t.Skip("user namespaces are not available: ", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchLimit$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=watch-limit")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		t.Skipf("cannot start a child in a new user namespace (user namespaces unavailable?): %v", err)
	case err != nil:
		t.Fatalf("child: %v\n%s", err, out)
	case !strings.Contains(string(out), "--- PASS: TestWatchLimit"):
		t.Fatalf("child did not run the test:\n%s", out)
	}
}

func watchLimitChild(t *testing.T) {
	// The harness takes 2 watches (sentinel and its parent), the tree's
	// parent and root 2 more: 3 of the 8 subdirectories fit.
	const limit = 7
	must(t, os.WriteFile("/proc/sys/user/max_inotify_watches", []byte(strconv.Itoa(limit)), 0))
	root := t.TempDir()
	for i := range 8 {
		mkdirAll(t, filepath.Join(root, fmt.Sprintf("d%d", i)))
	}
	var offset atomic.Int64
	t0 := time.Now()
	clock := func() time.Time { return t0.Add(time.Duration(offset.Load())) }
	h := startWith(t, options{clock: clock}, config.Watch{Path: root, Recursive: true})

	h.waitFor("MonitorStatus", func(evs []event.Event) bool { return len(evs) > 0 })
	e := h.got[0]
	if e.Type != event.MonitorStatus || e.Severity != event.Medium || e.Metadata["monitor"] != "filesystem" ||
		e.Metadata["state"] != "degraded" || !strings.Contains(e.Metadata["reason"], "/proc/sys/fs/inotify/max_user_watches") {
		t.Errorf("got %s %s %v", e.Type, e.Severity, e.Metadata)
	}
	// It goes on with the watches it has, and says so only once.
	writeFile(t, filepath.Join(root, "f"))
	h.waitEvent(event.FileCreate, filepath.Join(root, "f"))
	mkdirAll(t, filepath.Join(root, "more", "and-more"))
	n := 0
	for _, e := range h.settle() {
		if e.Type == event.MonitorStatus {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d MonitorStatus events, want 1:\n%s", n, dump(h.got))
	}
	// A minute on, filling the tree again is said again, with what went
	// unwatched meanwhile: one report per lifetime let a user blind the
	// monitor after the first.
	offset.Store(int64(2 * time.Minute))
	again := filepath.Join(root, "again")
	mkdirAll(t, again)
	st := h.waitEvent(event.MonitorStatus, again)
	if st.Metadata["state"] != "degraded" || !strings.Contains(st.Metadata["reason"], "cannot watch "+again+" nor ") {
		t.Errorf("second report %v, want degraded naming %s and the others missed", st.Metadata, again)
	}
}
