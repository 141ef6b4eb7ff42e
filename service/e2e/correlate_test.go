package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshmon/sshmontest"
)

// The real daemon puts an SSH login (sshd's entry in a real journal file)
// and the login user's authorized_keys written afterwards (real inotify)
// together into one Critical Incident naming both events; a reload with
// the same [correlation] section in between keeps the login in mind.
func TestPersistenceAfterLoginIncident(t *testing.T) {
	j := sshmontest.NewJournal(t)
	e := newEnv(t)
	e.ssh = true
	homes := filepath.Join(e.dir, "home")
	// A name no test machine has: its home is home_root/NAME.
	const user = "secmon-e2e-mallory"
	dotSSH := filepath.Join(homes, user, ".ssh")
	if err := os.MkdirAll(dotSSH, 0o700); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(t, fmt.Sprintf("\n[ssh]\njournal_directory = %q\nhome_root = %q\n\n[correlation]\nbadusb = false\n", j.Dir, homes))
	d := startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	if st := sshStatus(s); st.Metadata["state"] != "running" {
		t.Fatalf("ssh monitor %+v", st.Metadata)
	}

	// The session's sshd is this test process: the daemon names the
	// writer of authorized_keys (fanotify, as root), and the incident
	// needs it to descend from the session's sshd.
	accepted := sshmontest.SSHD("Accepted publickey for " + user + " from 203.0.113.9 port 50122 ssh2: " + sshFingerprint)
	accepted["_PID"] = strconv.Itoa(os.Getpid())
	j.Append(t, accepted)
	logins := s.until(func(e event.Event) bool { return e.Type == event.SshLogin })
	login := logins[len(logins)-1]

	d.cmd.Process.Signal(syscall.SIGHUP)
	d.notify.waitFor("READY=1")

	keys := filepath.Join(dotSSH, "authorized_keys")
	if err := os.WriteFile(keys, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMallory mallory@evil\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var access event.Event
	got := s.until(func(e event.Event) bool {
		if e.Type == event.SshAccess && e.Path == keys && access.Seq == 0 {
			access = e
		}
		return e.Type == event.Incident
	})
	inc := got[len(got)-1]
	want := strconv.FormatUint(login.Seq, 10) + "," + strconv.FormatUint(access.Seq, 10)
	if inc.Severity != event.Critical || inc.Metadata["rule"] != "persistence_after_login" || inc.Metadata["members"] != want ||
		inc.Metadata["ssh_user"] != user || inc.Metadata["remote_ip"] != "203.0.113.9" || inc.Path != keys {
		t.Fatalf("incident %+v, want persistence_after_login of members %s", inc, want)
	}
}
