package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/service/internal/event"
)

// Another user's process appends a key to authorized_keys: the daemon's
// SshAccess names it (pid, comm, uid, user), through fanotify; a write to
// an ordinary file of the watched tree names nobody (its directory has no
// fanotify mark).
func TestWriterNamed(t *testing.T) {
	e := newEnv(t)
	e.ssh = true
	homes := filepath.Join(e.dir, "home")
	dotSSH := filepath.Join(homes, "alice", ".ssh")
	if err := os.MkdirAll(dotSSH, 0o755); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dotSSH, "authorized_keys")
	if err := os.WriteFile(keys, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keys, 0o666); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(t, fmt.Sprintf("\n[ssh]\njournal_directory = %q\nhome_root = %q\n", e.dir, homes))
	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	st := s.until(func(e event.Event) bool { return e.Type == event.MonitorStatus && e.Metadata["monitor"] == "writers" })
	if m := st[len(st)-1].Metadata; m["state"] != string(event.Running) {
		t.Skipf("writers are not named here: %s", m["reason"])
	}
	sshStatus(s) // the watches are in place

	cmd := dbustest.RunAs(t, 65534, 65534, nil, "/bin/sh", "-c", `echo "ssh-ed25519 AAAA mallory" >> "$0" && read x`, keys)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := s.until(pathIs(keys))
	stdin.Close()
	cmd.Wait()
	ev := got[len(got)-1]
	if ev.Type != event.SshAccess || ev.Process == nil {
		t.Fatalf("got %+v (process %+v), want an SshAccess naming the writer", ev, ev.Process)
	}
	if p := ev.Process; p.PID != cmd.Process.Pid || p.Comm != "sh" || p.UID != 65534 {
		t.Errorf("process %+v, want pid %d, sh, uid 65534", *p, cmd.Process.Pid)
	}

	plain := filepath.Join(e.tree, "notes.txt")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = s.until(pathIs(plain))
	if ev := got[len(got)-1]; ev.Process != nil {
		t.Errorf("an ordinary file's event names %+v", *ev.Process)
	}
}
