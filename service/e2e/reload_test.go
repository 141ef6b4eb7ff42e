package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshmon/sshmontest"
)

// reloadWith rewrites the config with extra and reloads, waiting until the
// daemon is ready again; then it writes a file into the watched tree and
// returns every event up to that file's: all the reload caused.
func reloadWith(t *testing.T, d *daemonProc, e *env, s *stream, pid int, extra string) []event.Event {
	t.Helper()
	e.writeConfig(t, extra)
	syscall.Kill(pid, syscall.SIGHUP)
	d.notify.waitFor("RELOADING=1")
	d.notify.waitFor("READY=1")
	mark := filepath.Join(e.tree, fmt.Sprintf("after-reload-%d", len(extra)))
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return s.until(pathIs(mark))
}

// A reload that leaves [ssh] as it was keeps the ssh monitor running with
// its counts: 4 failures, a reload, 2 more are one SshBruteForce at a
// threshold of 6. The monitor does not announce itself again; the watch
// the reload added works.
func TestReloadKeepsBruteForceCount(t *testing.T) {
	j := sshmontest.NewJournal(t)
	// The journal file exists before the daemon starts (history: not
	// reported); entries of a file that appears later are another matter.
	j.Append(t, sshmontest.SSHD("Accepted password for root from 198.51.100.99 port 1 ssh2"))
	e := newEnv(t)
	e.ssh = true
	sshTable := fmt.Sprintf("\n[ssh]\njournal_directory = %q\nhome_root = %q\nbrute_force_threshold = 6\n", j.Dir, filepath.Join(e.dir, "home"))
	e.writeConfig(t, sshTable)
	d := startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	if st := sshStatus(s); st.Metadata["state"] != "running" {
		t.Fatalf("ssh monitor status %+v, want running", st.Metadata)
	}
	var four []sshmontest.Entry
	for i := range 4 {
		four = append(four, sshmontest.SSHD(failure(i)))
	}
	j.Append(t, four...)
	failed := 0
	s.until(func(ev event.Event) bool {
		if ev.Type == event.SshLoginFailed {
			failed++
		}
		return failed == 4
	})

	other := filepath.Join(e.dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ev := range reloadWith(t, d, e, s, d.cmd.Process.Pid, sshTable+fmt.Sprintf("\n[[watches]]\npath = %q\n", other)) {
		if m, _, _, ok := event.StatusOf(ev); ok && m == "ssh" {
			t.Errorf("the unchanged ssh monitor announced itself again: %+v", ev)
		}
	}
	added := filepath.Join(other, "new-watch")
	os.WriteFile(added, nil, 0o644)
	s.until(pathIs(added))

	j.Append(t, sshmontest.SSHD(failure(4)), sshmontest.SSHD(failure(5)),
		sshmontest.SSHD("Accepted publickey for bob from 192.0.2.80 port 2 ssh2: "+sshFingerprint))
	failed, brute := 0, 0
	for _, ev := range s.until(func(ev event.Event) bool { return ev.Metadata["remote_ip"] == "192.0.2.80" }) {
		switch ev.Type {
		case event.SshLoginFailed:
			failed++
		case event.SshBruteForce:
			brute++
			if ev.Metadata["count"] != "6" || ev.Metadata["remote_ip"] != "2001:db8::66" {
				t.Errorf("brute force %+v, want 6 failures from 2001:db8::66", ev.Metadata)
			}
		}
	}
	if failed != 2 || brute != 1 {
		t.Fatalf("after the reload: %d SshLoginFailed and %d SshBruteForce, want 2 and 1", failed, brute)
	}
}

// A reload that leaves [network] as it was does not list the listeners
// again, nor does the network monitor announce itself again.
func TestReloadKeepsNetworkInventory(t *testing.T) {
	e := newEnv(t)
	e.network = true
	network := "\n[network]\nallowed_listeners = [\"sshd\"]\n"
	e.writeConfig(t, network)
	d, ns := startNetDaemon(t, e)
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	srv := startNetHelper(t, e.dir, "nm-reload", ns, "listen", "0.0.0.0:0")
	s.until(func(ev event.Event) bool {
		return ev.Type == event.NetworkListen && ev.Metadata["port"] == srv.words[0] && ev.Metadata["state"] == "listening"
	})

	for _, ev := range reloadWith(t, d, e, s, d.cmd.Process.Pid, network+"\n# touched\n") {
		if m, _, _, ok := event.StatusOf(ev); ok && m == "network" {
			t.Errorf("the unchanged network monitor announced itself again: %+v", ev)
		}
		if ev.Type == event.NetworkListen {
			t.Errorf("the listeners were listed again: %+v", ev)
		}
	}
	// A changed [network] replaces the monitor: it lists them again.
	var listed bool
	for _, ev := range reloadWith(t, d, e, s, d.cmd.Process.Pid, "\n[network]\nallowed_listeners = [\"sshd\", \"cupsd\"]\n") {
		listed = listed || ev.Type == event.NetworkListen && ev.Metadata["found_by"] == "inventory" && ev.Metadata["port"] == srv.words[0]
	}
	if !listed {
		t.Error("a changed [network] did not restart the monitor with a new inventory")
	}
}

// A reload that changes only the brute-force limits takes them in place:
// the failures counted before it count under the new threshold (4 at
// threshold 6, reload to 5, one more: an SshBruteForce of 5).
func TestReloadWithNewLimitsKeepsTheCount(t *testing.T) {
	j := sshmontest.NewJournal(t)
	j.Append(t, sshmontest.SSHD("Accepted password for root from 198.51.100.99 port 1 ssh2"))
	e := newEnv(t)
	e.ssh = true
	table := func(threshold int) string {
		return fmt.Sprintf("\n[ssh]\njournal_directory = %q\nhome_root = %q\nbrute_force_threshold = %d\n", j.Dir, filepath.Join(e.dir, "home"), threshold)
	}
	e.writeConfig(t, table(6))
	d := startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	sshStatus(s)
	var four []sshmontest.Entry
	for i := range 4 {
		four = append(four, sshmontest.SSHD(failure(i)))
	}
	j.Append(t, four...)
	failed := 0
	s.until(func(ev event.Event) bool {
		if ev.Type == event.SshLoginFailed {
			failed++
		}
		return failed == 4
	})
	for _, ev := range reloadWith(t, d, e, s, d.cmd.Process.Pid, table(5)) {
		if m, _, _, ok := event.StatusOf(ev); ok && m == "ssh" {
			t.Errorf("the ssh monitor was rebuilt for new limits: %+v", ev)
		}
	}
	j.Append(t, sshmontest.SSHD(failure(4)),
		sshmontest.SSHD("Accepted publickey for bob from 192.0.2.80 port 2 ssh2: "+sshFingerprint))
	brute := 0
	for _, ev := range s.until(func(ev event.Event) bool { return ev.Metadata["remote_ip"] == "192.0.2.80" }) {
		if ev.Type == event.SshBruteForce {
			brute++
			if ev.Metadata["count"] != "5" {
				t.Errorf("brute force %+v, want 5 failures (4 before the reload, 1 after)", ev.Metadata)
			}
		}
	}
	if brute != 1 {
		t.Fatalf("%d SshBruteForce after the reload, want 1", brute)
	}
}

// What sshd logs while secmon is stopped is read when it starts again,
// from the journal cursor the last run kept in the state directory: a
// login then is reported, marked as found while secmon was not running;
// what the last run had read is not reported twice.
func TestSSHLoginWhileStoppedIsReportedAtStart(t *testing.T) {
	j := sshmontest.NewJournal(t)
	j.Append(t, sshmontest.SSHD("Accepted password for root from 198.51.100.99 port 1 ssh2"))
	e := newEnv(t)
	e.ssh = true
	e.writeConfig(t, fmt.Sprintf("\n[ssh]\njournal_directory = %q\nhome_root = %q\n", j.Dir, filepath.Join(e.dir, "home")))
	d := startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	j.Append(t, sshmontest.SSHD("Accepted publickey for bob from 192.0.2.40 port 2 ssh2: "+sshFingerprint))
	s.until(func(ev event.Event) bool { return ev.Type == event.SshLogin && ev.Path == "192.0.2.40" })
	d.stop()

	j.Append(t, sshmontest.SSHD("Accepted publickey for alice from 192.0.2.50 port 3 ssh2: "+sshFingerprint))
	startDaemon(t, []string{e.config})
	s = connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	got := s.until(func(ev event.Event) bool { return ev.Type == event.SshLogin && ev.Path == "192.0.2.50" })
	login := got[len(got)-1]
	if login.Metadata["found_by"] != "catch-up" || !strings.HasPrefix(login.Description, "While secmon was not running: ") {
		t.Errorf("login while stopped: %+v, want it marked as found at start", login)
	}
	for _, ev := range got {
		if ev.Type == event.SshLogin && ev.Path == "192.0.2.40" && ev.Metadata["found_by"] == "catch-up" {
			t.Errorf("a login the last run had read is reported again: %+v", ev)
		}
	}
	if _, err := os.Stat(filepath.Join(e.state, "ssh-journal-cursor")); err != nil {
		t.Errorf("no cursor kept: %v", err)
	}
}

// What changed in a sensitive file while the daemon was stopped is
// reported when it starts again: a key appended to authorized_keys
// (Critical) and an autostart entry that appeared (Medium), marked as found
// by the baseline; an ordinary file's change is not.
func TestSensitiveChangesWhileStoppedAreReportedAtStart(t *testing.T) {
	e := newEnv(t)
	keys := filepath.Join(e.tree, "home", "alice", ".ssh", "authorized_keys")
	autostart := filepath.Join(e.tree, "home", "alice", ".config", "autostart")
	notes := filepath.Join(e.tree, "notes.txt")
	for _, d := range []string{filepath.Dir(keys), autostart} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(keys, []byte("ssh-ed25519 AAAAC3Nza alice@laptop\n"), 0o600)
	os.WriteFile(notes, []byte("one\n"), 0o644)
	e.writeConfig(t, "")
	d := startDaemon(t, []string{e.config})
	d.stop()

	f, _ := os.OpenFile(keys, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("ssh-ed25519 AAAAC3NzaEVIL mallory@elsewhere\n")
	f.Close()
	entry := filepath.Join(autostart, "updater.desktop")
	os.WriteFile(entry, []byte("[Desktop Entry]\nExec=/tmp/evil\n"), 0o644)
	os.WriteFile(notes, []byte("two\n"), 0o644)

	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	var key, start *event.Event
	got := s.until(func(ev event.Event) bool {
		if ev.Metadata["found_by"] == "baseline" {
			switch ev.Path {
			case keys:
				key = &ev
			case entry:
				start = &ev
			}
		}
		return key != nil && start != nil
	})
	// Everything the baseline said comes before the daemon is ready: a
	// change made now comes after it.
	sentinel := filepath.Join(e.tree, "sentinel")
	os.WriteFile(sentinel, nil, 0o644)
	for _, ev := range append(got, s.until(pathIs(sentinel))...) {
		if ev.Path == notes {
			t.Errorf("an ordinary file's change was reported: %+v", ev)
		}
	}
	if key.Type != event.SshAccess || key.Severity != event.Critical || !strings.HasPrefix(key.Description, "Changed while secmon was not running") {
		t.Errorf("authorized_keys: %+v, want a Critical SshAccess changed while not running", *key)
	}
	if start.Type != event.FileCreate || start.Severity != event.Medium {
		t.Errorf("autostart entry: %+v, want a Medium FileCreate", *start)
	}
}

// A key written to authorized_keys is named in the event: its type, its
// fingerprint, its comment.
func TestAuthorizedKeyIsNamed(t *testing.T) {
	e := newEnv(t)
	ssh := filepath.Join(e.tree, "home", "alice", ".ssh")
	os.MkdirAll(ssh, 0o700)
	e.writeConfig(t, "")
	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	keys := filepath.Join(ssh, "authorized_keys")
	os.WriteFile(keys, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBD6GuZJ0a2l8Df0m3TLpWS8EvgGq9uIl3xYZf3RU7lA mallory@evil\n"), 0o600)
	var named event.Event
	s.until(func(ev event.Event) bool {
		if ev.Path == keys && ev.Metadata["key_fingerprint"] != "" {
			named = ev
			return true
		}
		return false
	})
	if named.Type != event.SshAccess || named.Severity != event.Critical || named.Metadata["key_type"] != "ssh-ed25519" ||
		named.Metadata["key_comment"] != "mallory@evil" || !strings.HasPrefix(named.Metadata["key_fingerprint"], "SHA256:") {
		t.Errorf("got %+v, want a Critical SshAccess naming the ed25519 key of mallory@evil", named.Metadata)
	}
}

// --check says which monitors are on and off, besides the watches.
func TestCheckListsTheMonitors(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	out, err := exec.Command(filepath.Join(bin, "secmon-daemon"), "--check", e.config).CombinedOutput()
	if err != nil {
		t.Fatalf("--check: %v\n%s", err, out)
	}
	// The test config turns on the filesystem monitor (with the baseline of
	// its sensitive files) and leaves correlation at its default, on.
	if !strings.Contains(string(out), "monitors on: correlation, filesystem, baseline\n") ||
		!strings.Contains(string(out), "monitors off: triggers, camera, microphone, network, ssh, usb\n") {
		t.Errorf("--check said:\n%s\nwant the monitors on and off listed", out)
	}
}
