package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshmon/sshmontest"
)

const sshFingerprint = "ED25519 SHA256:n3Y0b6Kp6+fWq9m0Gf2PlgxQ2c3o7eHkzq1O2y9yTb4"

// sshStatus waits for the ssh monitor's MonitorStatus and returns it.
func sshStatus(s *stream) event.Event {
	s.t.Helper()
	got := s.until(func(e event.Event) bool { return e.Type == event.MonitorStatus && e.Metadata["monitor"] == "ssh" })
	return got[len(got)-1]
}

// checkSSHEvents reads a key login, then six failures from 2001:db8::66 up
// to a last login from 192.0.2.80: six SshLoginFailed and exactly one
// SshBruteForce in between.
func checkSSHEvents(t *testing.T, s *stream, wantPID int) {
	t.Helper()
	login := s.until(func(e event.Event) bool { return e.Type == event.SshLogin })
	ev := login[len(login)-1]
	if ev.Metadata["user"] != "alice" || ev.Metadata["remote_ip"] != "192.0.2.10" || ev.Metadata["fingerprint"] != sshFingerprint ||
		ev.Severity != event.Medium || ev.Path != "192.0.2.10" {
		t.Fatalf("got %+v, want alice's key login with its fingerprint", ev)
	}
	if ev.Process == nil || ev.Process.PID != wantPID {
		t.Errorf("process %+v, want sshd's pid %d", ev.Process, wantPID)
	}
	failed, brute := 0, 0
	for _, e := range s.until(func(e event.Event) bool { return e.Metadata["remote_ip"] == "192.0.2.80" }) {
		switch e.Type {
		case event.SshLoginFailed:
			failed++
		case event.SshBruteForce:
			brute++
			if e.Severity != event.High || e.Metadata["remote_ip"] != "2001:db8::66" || e.Metadata["count"] != "5" ||
				e.Metadata["window_seconds"] != "600" || !strings.HasPrefix(e.Metadata["users"], "admin0,admin1") {
				t.Errorf("brute force %+v", e)
			}
		}
	}
	if failed != 6 || brute != 1 {
		t.Fatalf("got %d SshLoginFailed and %d SshBruteForce, want 6 and 1", failed, brute)
	}
}

func failure(i int) string {
	return fmt.Sprintf("Failed password for invalid user admin%d from 2001:db8::66 port %d ssh2", i, 40000+i)
}

// The daemon follows sshd's entries in a journal that systemd-journal-remote
// writes while it runs.
func TestSSHJournal(t *testing.T) {
	j := sshmontest.NewJournal(t)
	j.Append(t, sshmontest.SSHD("Accepted password for root from 198.51.100.99 port 1 ssh2")) // history: not reported
	e := newEnv(t)
	e.ssh = true
	e.writeConfig(t, fmt.Sprintf("\n[ssh]\njournal_directory = %q\nhome_root = %q\n", j.Dir, filepath.Join(e.dir, "home")))
	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	if st := sshStatus(s); st.Metadata["state"] != "running" || !strings.Contains(st.Metadata["reason"], j.Dir) {
		t.Fatalf("ssh monitor status %+v, want running on the journal in %s", st.Metadata, j.Dir)
	}

	j.Append(t, sshmontest.SSHD("Accepted publickey for alice from 192.0.2.10 port 52144 ssh2: "+sshFingerprint))
	var entries []sshmontest.Entry
	for i := range 6 {
		entries = append(entries, sshmontest.SSHD(failure(i)))
	}
	j.Append(t, append(entries, sshmontest.SSHD("Accepted publickey for bob from 192.0.2.80 port 2 ssh2: "+sshFingerprint))...)
	checkSSHEvents(t, s, 4242)
}

// The same through an auth log that logrotate renames mid-test.
func TestSSHAuthLogRotated(t *testing.T) {
	e := newEnv(t)
	e.ssh = true
	log := filepath.Join(e.dir, "auth.log")
	line := func(msg string) string { return "Nov 22 05:07:01 box sshd[77]: " + msg + "\n" }
	if err := os.WriteFile(log, []byte(line("Accepted password for root from 198.51.100.99 port 1 ssh2")), 0o640); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(t, fmt.Sprintf("\n[ssh]\nauth_log = %q\nhome_root = %q\n", log, filepath.Join(e.dir, "home")))
	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	if st := sshStatus(s); st.Metadata["state"] != "running" || !strings.Contains(st.Metadata["reason"], log) {
		t.Fatalf("ssh monitor status %+v, want running on %s", st.Metadata, log)
	}

	write := func(path, s string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	write(log, line("Accepted publickey for alice from 192.0.2.10 port 52144 ssh2: "+sshFingerprint)+line(failure(0))+line(failure(1)))
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	write(log+".1", line(failure(2))) // syslog has not reopened yet
	write(log, line(failure(3))+line(failure(4))+line(failure(5)))
	// The last line: the daemon has caught up when it arrives.
	write(log, line("Accepted publickey for bob from 192.0.2.80 port 2 ssh2: "+sshFingerprint))
	checkSSHEvents(t, s, 77)
}

// A key written into a home created after start-up, under home_root, is a
// Critical SshAccess.
func TestSSHAuthorizedKeysInNewHome(t *testing.T) {
	e := newEnv(t)
	e.ssh = true
	homes := filepath.Join(e.dir, "home")
	if err := os.Mkdir(homes, 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(t, fmt.Sprintf("\n[ssh]\njournal_directory = %q\nhome_root = %q\n", e.dir, homes))
	startDaemon(t, []string{e.config})
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	if st := sshStatus(s); !strings.Contains(st.Metadata["reason"], homes+"/*/.ssh") {
		t.Fatalf("ssh monitor status %+v, want it to name %s/*/.ssh", st.Metadata, homes)
	}
	ssh := filepath.Join(homes, "mallory", ".ssh")
	if err := os.MkdirAll(ssh, 0o700); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(ssh, "authorized_keys")
	if err := os.WriteFile(keys, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA attacker\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := s.until(pathIs(keys))
	if ev := got[len(got)-1]; ev.Type != event.SshAccess || ev.Severity != event.Critical ||
		ev.Metadata["ssh_file"] != "authorized_keys" || ev.Metadata["watch"] != homes+"/*/.ssh" {
		t.Fatalf("got %+v, want a Critical SshAccess from the %s/*/.ssh watch", ev, homes)
	}
}
