package e2e_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/service/internal/event"
)

// Another user's process appends a key to authorized_keys: the daemon's
// SshAccess names it (pid, comm, uid, user), through fanotify, and one
// inside an SSH session gets the session's address (ssh_from); a write to
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
	keys2 := filepath.Join(dotSSH, "authorized_keys2") // another path: writes to one path within 1 s are one event
	if err := os.WriteFile(keys2, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keys2, 0o666); err != nil {
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

	// Inside an SSH session: bash under the name sshd-session holds a TCP
	// connection to 127.0.0.3 (the "client") and runs the writer, as
	// sshd-session runs a session's shell.
	ln, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	sshd := filepath.Join(shortTempDir(t), "sshd-session")
	bash, err := os.ReadFile("/bin/bash")
	if err != nil {
		t.Skip("no bash:", err)
	}
	if err := os.WriteFile(sshd, bash, 0o755); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	cmd = dbustest.RunAs(t, 65534, 65534, nil, sshd, "-c",
		`exec 3<>/dev/tcp/`+host+`/`+port+` && /bin/sh -c 'echo "ssh-ed25519 AAAA eve" >> "$0" && read x' "$0"; exit $?`, keys2)
	if stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got = s.until(pathIs(keys2))
	stdin.Close()
	cmd.Wait()
	if ev := got[len(got)-1]; ev.Metadata["ssh_from"] != "127.0.0.3" || ev.Process == nil || ev.Process.Comm != "sh" {
		t.Errorf("got %+v (process %+v), want sh with ssh_from 127.0.0.3", ev, ev.Process)
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

// A watch marked sensitive = true gets its writers named too, and its
// changes are Medium at least.
func TestWriterNamedUnderAMarkedWatch(t *testing.T) {
	e := newEnv(t)
	marked := filepath.Join(e.dir, "contracts")
	if err := os.Mkdir(marked, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(marked, 0o777)
	doc := filepath.Join(marked, "offer.txt")
	os.WriteFile(doc, nil, 0o666)
	os.Chmod(doc, 0o666)
	e.writeConfig(t, fmt.Sprintf("\n[[watches]]\npath = %q\ndescription = \"contracts\"\nsensitive = true\n", marked))
	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	st := s.until(func(e event.Event) bool { return e.Type == event.MonitorStatus && e.Metadata["monitor"] == "writers" })
	if m := st[len(st)-1].Metadata; m["state"] != string(event.Running) {
		t.Skipf("writers are not named here: %s", m["reason"])
	}
	s.until(func(e event.Event) bool {
		return e.Type == event.MonitorStatus && e.Metadata["monitor"] == "filesystem"
	})

	cmd := dbustest.RunAs(t, 65534, 65534, nil, "/bin/sh", "-c", `echo changed >> "$0" && read x`, doc)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := s.until(pathIs(doc))
	stdin.Close()
	cmd.Wait()
	ev := got[len(got)-1]
	if ev.Process == nil || ev.Process.PID != cmd.Process.Pid && ev.Process.UID != 65534 || ev.Severity < event.Medium {
		t.Fatalf("got %+v (process %+v), want a Medium change naming uid 65534's writer", ev, ev.Process)
	}
}
