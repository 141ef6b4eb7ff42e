package e2e_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/dbus/testutil"
)

func lookupIDs(t *testing.T) (nobody, nogroup, secmon int) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	g, err := user.LookupGroup("secmon")
	if err != nil {
		t.Skip("no group secmon (.ci/setup creates it)")
	}
	nobody, _ = strconv.Atoi(u.Uid)
	nogroup, _ = strconv.Atoi(u.Gid)
	secmon, _ = strconv.Atoi(g.Gid)
	return
}

// runClient runs secmon-client -count 1 as uid/gid/groups against the
// socket and returns its combined output and error.
func runClient(t *testing.T, socket string, uid, gid int, groups []int) (string, error) {
	cmd := dbustest.RunAs(t, uid, gid, groups, filepath.Join(bin, "secmon-client"), "-socket", socket, "-json", "-replay-after", "0", "-count", "1")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "GORACE=atexit_sleep_ms=0"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Who may read events: the socket is 0660 root:secmon, so a member of
// secmon reads them and another user cannot even connect.
func TestSocketGroupMembersOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running clients as other users needs root (CI runs as root)")
	}
	nobody, nogroup, secmon := lookupIDs(t)
	e := newEnv(t)
	e.writeConfig(t, "", `socket_mode = "0660"`, `socket_group = "secmon"`+"\n")
	startDaemon(t, []string{e.config})
	if out, err := runClient(t, e.socket, nobody, nogroup, []int{secmon}); err != nil || !strings.Contains(out, `"seq":1`) {
		t.Fatalf("a member of secmon: %v\n%s", err, out)
	}
	out, err := runClient(t, e.socket, nobody, nogroup, nil)
	if err == nil || !strings.Contains(out, "permission denied") || !strings.Contains(out, "SupplementaryGroups=secmon") || !strings.Contains(out, "usermod -aG secmon") {
		t.Fatalf("a user outside secmon: err %v, output %q; want permission denied, and what to do", err, out)
	}
	// --show, as the notifier's Details runs it: the event in full.
	show := dbustest.RunAs(t, nobody, nogroup, []int{secmon}, filepath.Join(bin, "secmon-client"), "-socket", e.socket, "-show", "1")
	show.Env = []string{"PATH=/usr/bin:/bin", "GORACE=atexit_sleep_ms=0"}
	if out, err := show.CombinedOutput(); err != nil || !strings.Contains(string(out), "Event:       1\n") || !strings.Contains(string(out), "Severity:    ") {
		t.Fatalf("secmon-client -show 1: %v\n%s", err, out)
	}
}

// The peer-credential check holds even when the socket's permissions are
// too wide: with socket_mode 0666 another user connects, is refused by
// SO_PEERCRED with a clear error, and gets no event.
func TestPeerCredentialsRefuseOthersOnAWideSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running clients as other users needs root (CI runs as root)")
	}
	nobody, nogroup, secmon := lookupIDs(t)
	e := newEnv(t)
	e.writeConfig(t, "", `socket_mode = "0666"`, `socket_group = "secmon"`+"\n")
	d := startDaemon(t, []string{e.config})
	out, err := runClient(t, e.socket, nobody, nogroup, nil)
	if err == nil || !strings.Contains(out, "permission denied: uid "+strconv.Itoa(nobody)) || strings.Contains(out, `"seq"`) {
		t.Fatalf("another user on a 0666 socket: err %v, output %q; want refused, no events", err, out)
	}
	// The daemon logs before it answers, but its stderr reaches the test
	// through a pipe copied by another goroutine: wait for the line.
	if !testutil.Until(15*time.Second, func() bool { return strings.Contains(d.stderr.String(), "client refused") }) {
		t.Errorf("the refusal is not in the daemon's log:\n%s", d.stderr.String())
	}
	// The group still works on the wide socket.
	if out, err := runClient(t, e.socket, nobody, nogroup, []int{secmon}); err != nil || !strings.Contains(out, `"seq":1`) {
		t.Fatalf("a member of secmon: %v\n%s", err, out)
	}
}
