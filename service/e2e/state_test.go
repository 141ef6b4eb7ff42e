package e2e_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/event"
)

// A full state directory (a 4 KB tmpfs, filled, in a private mount
// namespace): the daemon says so in a MonitorStatus event and a log line,
// and every event still reaches clients.
func TestStateDirectoryFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare is not installed (Debian: util-linux)")
	}
	e := newEnv(t)
	os.Mkdir(e.state, 0o700)
	e.writeConfig(t, "")
	// The tmpfs goes on a private bind mount of the state directory in a
	// new mount namespace, so it never reaches this machine's mounts.
	// unshare's default (--propagation private) would remount / instead,
	// which fails where / is not a mount point (a chroot): "cannot change
	// root filesystem propagation: Invalid argument". Where the directory's
	// mount is shared, the bind mount itself propagates back here (the
	// tmpfs does not): undo it once the daemon is gone.
	t.Cleanup(func() {
		if err := unix.Unmount(e.state, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("cannot unmount the bind mount that reached %s: %v", e.state, err)
		}
	})
	cmd := exec.Command("unshare", "--mount", "--propagation", "unchanged", "sh", "-c",
		`mount --bind "$1" "$1" && mount --make-private "$1" && mount -t tmpfs -o size=4k tmpfs "$1" || exit
		head -c 1M /dev/zero > "$1/fill" 2>/dev/null; exec "$0" "$2"`,
		filepath.Join(bin, "secmon-daemon"), e.state, e.config)
	d := launch(t, cmd)
	d.notify.waitFor("READY=1", d)
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	var status *event.Event
	for status == nil {
		ev := s.next()
		if ev.Type == event.MonitorStatus && ev.Metadata["monitor"] == "state" {
			status = &ev
		}
	}
	if status.Severity != event.High || status.Metadata["state"] != "degraded" || !strings.Contains(status.Description, "cannot reserve event numbers") {
		t.Fatalf("got %+v, want a High MonitorStatus saying the state directory cannot be written", status)
	}
	f := filepath.Join(e.tree, "still-seen")
	os.WriteFile(f, nil, 0o644)
	s.until(pathIs(f))
	if !testutil.Until(15*time.Second, func() bool { return strings.Contains(d.stderr.String(), "cannot reserve event sequence numbers") }) {
		t.Errorf("no log line about the state directory:\n%s", d.stderr.String())
	}
}

// Without a journal the daemon says so in a MonitorStatus event (and writes
// events to standard error) instead of losing them quietly.
func TestNoJournalIsAnEvent(t *testing.T) {
	if _, err := os.Stat("/run/systemd/journal/socket"); err == nil {
		t.Skip("journald runs here: this test needs a machine without one (the journal tests cover the other case)")
	}
	e := newEnv(t)
	e.writeConfig(t, "")
	d := startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	got := s.until(func(ev event.Event) bool {
		return ev.Type == event.MonitorStatus && ev.Metadata["monitor"] == "journal"
	})
	if ev := got[len(got)-1]; ev.Metadata["state"] != "unavailable" || !strings.Contains(ev.Description, "standard error") {
		t.Fatalf("got %+v, want the journal unavailable and where events go instead", ev)
	}
	if !testutil.Until(15*time.Second, func() bool { return strings.Contains(d.stderr.String(), `"monitor":"journal"`) }) {
		t.Errorf("events are not on standard error:\n%s", d.stderr.String())
	}
}
