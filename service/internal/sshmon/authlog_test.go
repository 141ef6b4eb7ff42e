package sshmon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
)

func authLine(port int) string {
	return fmt.Sprintf("Nov 22 05:07:01 box sshd[123]: Failed password for alice from 192.0.2.1 port %d ssh2\n", port)
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// seen collects the ports of SshLoginFailed events until every port in
// want has come, and fails on a port that comes twice.
func seen(t *testing.T, m *monitor, got map[int]int, want ...int) {
	t.Helper()
	for {
		missing := false
		for _, p := range want {
			if got[p] == 0 {
				missing = true
			}
		}
		if !missing {
			return
		}
		e := m.next()
		p, _ := strconv.Atoi(e.Metadata["remote_port"])
		if e.Type != event.SshLoginFailed || e.Process == nil || e.Process.PID != 123 || e.Process.Comm != "sshd" {
			t.Fatalf("got %s (process %+v), want SshLoginFailed from sshd[123]", describe([]event.Event{e}), e.Process)
		}
		got[p]++
		if got[p] > 1 {
			t.Fatalf("the line with port %d was reported twice", p)
		}
	}
}

// The auth log is read from its end, across a rename rotation (with late
// writes to the renamed file) and a truncation, with no line lost or read
// twice.
func TestAuthLogRotationAndTruncation(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	appendTo(t, log, "Nov 22 05:00:00 box sshd[1]: Failed password for root from 198.51.100.99 port 9999 ssh2\n")
	cfg := defaults()
	cfg.AuthLog = log
	cfg.BruteForceThreshold = 100
	m := start(t, cfg)
	got := map[int]int{}

	appendTo(t, log, authLine(1)+authLine(2))
	appendTo(t, log, authLine(3))
	seen(t, m, got, 1, 2, 3)

	// logrotate's default: rename, then a new file; syslog goes on writing
	// into the renamed one until it reopens.
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log+".1", authLine(4))
	appendTo(t, log, authLine(5))
	appendTo(t, log+".1", authLine(6))
	appendTo(t, log, authLine(7))
	seen(t, m, got, 4, 5, 6, 7)

	// copytruncate: the same file, emptied, written again.
	var long strings.Builder
	for p := 8; p < 40; p++ {
		long.WriteString(authLine(p))
	}
	appendTo(t, log, long.String())
	seen(t, m, got, 8, 39)
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log, authLine(40))
	appendTo(t, log, authLine(41))
	seen(t, m, got, 40, 41)

	// A line written in two parts is one line.
	l := authLine(42)
	appendTo(t, log, l[:30])
	appendTo(t, log, l[30:])
	// The last line: anything read twice came before it.
	appendTo(t, log, authLine(43))
	seen(t, m, got, 42, 43)
	for p := 1; p <= 43; p++ {
		if got[p] != 1 {
			t.Errorf("line with port %d reported %d times", p, got[p])
		}
	}
	if got[9999] != 0 {
		t.Errorf("history before the start was reported")
	}
}

// An auth log that does not exist yet is waited for and read from its start.
func TestAuthLogAppears(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "secure")
	cfg := defaults()
	cfg.AuthLog = log
	m := start(t, cfg)
	if l := m.w.Limitation(); !strings.Contains(l, "does not exist") {
		t.Fatalf("Limitation() = %q, want it to say the file is missing", l)
	}
	// The monitor says so itself, before it is ready.
	select {
	case e := <-m.events:
		mon, st, reason, _ := event.StatusOf(e)
		if mon != "ssh" || st != event.Degraded || !strings.Contains(reason, "reading "+log) ||
			!strings.Contains(reason, "watching /etc/ssh, /root/.ssh, /home/*/.ssh") || !strings.Contains(reason, "does not exist") {
			t.Fatalf("first event %+v, want the ssh monitor degraded on the missing %s", e, log)
		}
	default:
		t.Fatal("no status before Ready")
	}
	appendTo(t, log, authLine(1)+authLine(2))
	seen(t, m, map[int]int{}, 1, 2)
}

// What each kind of line becomes.
func TestEvents(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	appendTo(t, log, "")
	cfg := defaults()
	cfg.AuthLog = log
	cfg.BruteForceThreshold = 3
	m := start(t, cfg)
	tests := []struct {
		msg  string
		typ  event.Type
		sev  event.Severity
		meta map[string]string
	}{
		{"Accepted publickey for alice from 192.0.2.10 port 52144 ssh2: " + fp, event.SshLogin, event.Medium,
			map[string]string{"user": "alice", "remote_ip": "192.0.2.10", "remote_port": "52144", "method": "publickey", "fingerprint": fp}},
		{"Accepted publickey for root from 2001:db8::1 port 22 ssh2: " + fp, event.SshLogin, event.High,
			map[string]string{"user": "root", "remote_ip": "2001:db8::1", "remote_port": "22", "method": "publickey", "fingerprint": fp}},
		{"Accepted password for bob from 192.0.2.11 port 1 ssh2", event.SshLogin, event.High,
			map[string]string{"user": "bob", "remote_ip": "192.0.2.11", "remote_port": "1", "method": "password"}},
		{"Accepted keyboard-interactive/pam for bob from 192.0.2.11 port 2 ssh2", event.SshLogin, event.High,
			map[string]string{"user": "bob", "remote_ip": "192.0.2.11", "remote_port": "2", "method": "keyboard-interactive/pam"}},
		{"Invalid user  from 192.0.2.12 port 3", event.SshLoginFailed, event.Low,
			map[string]string{"user": "", "remote_ip": "192.0.2.12", "remote_port": "3", "reason": "invalid user"}},
		{"User root from 192.0.2.12 not allowed because not listed in AllowUsers", event.SshLoginFailed, event.Low,
			map[string]string{"user": "root", "remote_ip": "192.0.2.12", "reason": "not allowed because not listed in AllowUsers"}},
		{"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.12  user=root", event.SshLoginFailed, event.Low,
			map[string]string{"user": "root", "remote_ip": "192.0.2.12", "reason": "PAM authentication failure (pam_unix)"}},
		{"Failed publickey for alice from 192.0.2.12 port 5 ssh2: " + fp, event.SshLoginFailed, event.Low,
			map[string]string{"user": "alice", "remote_ip": "192.0.2.12", "remote_port": "5", "method": "publickey", "fingerprint": fp, "reason": "failed publickey"}},
		// Invalid user, not allowed, failed publickey: three attempts (PAM
		// accompanies one and counts nothing).
		{"", event.SshBruteForce, event.High,
			map[string]string{"remote_ip": "192.0.2.12", "count": "3", "window_seconds": "600", "users": `"",root,alice`}},
		{"error: maximum authentication attempts exceeded for alice from 192.0.2.12 port 5 ssh2 [preauth]", event.SshLoginFailed, event.Low,
			map[string]string{"user": "alice", "remote_ip": "192.0.2.12", "remote_port": "5", "reason": "maximum authentication attempts exceeded"}},
	}
	for _, tt := range tests {
		if tt.msg != "" {
			// Lines that are not events go first: the next event is this one.
			appendTo(t, log, "Nov 22 05:07:01 box sshd[9]: Connection closed by 192.0.2.12 port 5 [preauth]\n"+
				"Nov 22 05:07:01 box sudo[9]: "+tt.msg+"\n"+
				"Nov 22 05:07:01 box sshd[9]: "+tt.msg+"\n")
		}
		e := m.next()
		for k, v := range tt.meta {
			if e.Metadata[k] != v {
				t.Errorf("%q: metadata %s = %q, want %q", tt.msg, k, e.Metadata[k], v)
			}
		}
		if e.Type != tt.typ || e.Severity != tt.sev || !reflect.DeepEqual(e.Metadata, tt.meta) {
			t.Errorf("%q\n got %s\nwant %s %s %v", tt.msg, describe([]event.Event{e}), tt.typ, tt.sev, tt.meta)
		}
		if e.Path != tt.meta["remote_ip"] || e.Description == "" {
			t.Errorf("%q: path %q, description %q; want the remote address and a description", tt.msg, e.Path, e.Description)
		}
	}
}

// Without journald and without an auth log (a container), the ssh monitor
// is unavailable, not degraded: an expected state, said but not alarmed.
func TestNoJournaldNoAuthLogIsUnavailable(t *testing.T) {
	if _, err := os.Stat("/run/systemd/journal/socket"); err == nil {
		t.Skip("journald runs here: the monitor reads the journal")
	}
	for _, p := range []string{"/var/log/auth.log", "/var/log/secure"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists here: the monitor reads it", p)
		}
	}
	m := start(t, defaults())
	// The monitor says so itself, before it is ready.
	select {
	case st := <-m.events:
		if _, state, _, _ := event.StatusOf(st); state != event.Unavailable || st.Severity != event.Low {
			t.Fatalf("first event %+v, want the ssh monitor unavailable (Low)", st)
		}
	default:
		t.Fatal("no status before Ready")
	}
}
