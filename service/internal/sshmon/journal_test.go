//go:build cgo

package sshmon_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/sshmon/sshmontest"
)

// sshd's entries written to a real journal file while the monitor follows
// it: a key login, a brute force, and what must not be reported.
func TestJournal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history bool
	}{
		{"journal file created after start", false},
		{"journal with history", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := sshmontest.NewJournal(t)
			if tc.history {
				j.Append(t, sshmontest.SSHD("Accepted password for root from 198.51.100.99 port 1 ssh2"))
			}
			cfg := defaults()
			cfg.JournalDirectory = j.Dir
			m := start(t, cfg)

			j.Append(t, sshmontest.SSHD("Accepted publickey for alice from 192.0.2.10 port 52144 ssh2: "+fp))
			e := m.next()
			if e.Type != event.SshLogin || e.Severity != event.Medium || e.Path != "192.0.2.10" ||
				e.Metadata["fingerprint"] != fp || e.Metadata["user"] != "alice" || e.Metadata["method"] != "publickey" ||
				e.Metadata["remote_port"] != "52144" {
				t.Fatalf("got %s, want a Medium SshLogin for alice with the fingerprint (history must not be replayed)", describe([]event.Event{e}))
			}
			if e.Process == nil || e.Process.PID != 4242 || e.Process.Comm != "sshd-session" || e.Process.UID != 0 ||
				e.Process.Unit != "ssh.service" {
				t.Errorf("process %+v, want sshd-session's from the journal fields", e.Process)
			}

			var failures []sshmontest.Entry
			for i := range 6 {
				failures = append(failures, sshmontest.SSHD(fmt.Sprintf("Failed password for invalid user admin%d from 2001:db8::66 port %d ssh2", i, 40000+i)))
			}
			// Entries from other programs, and sshd's matched by another field.
			failures = append(failures,
				sshmontest.Entry{"MESSAGE": "Failed password for root from 192.0.2.77 port 1 ssh2", "SYSLOG_IDENTIFIER": "sudo", "_COMM": "sudo"},
				sshmontest.Entry{"MESSAGE": "Failed password for root from 192.0.2.78 port 2 ssh2", "_SYSTEMD_UNIT": "sshd.service", "_PID": "7", "_UID": "0"},
				sshmontest.Entry{"MESSAGE": "Failed password for root from 192.0.2.79 port 3 ssh2", "_COMM": "sshd", "_PID": "8", "_UID": "0"},
			)
			// What an ordinary user's logger -t sshd writes: sshd's words,
			// journald's fields say logger, uid 1000. Never a login, never
			// counted towards a brute force.
			for i := range 5 {
				failures = append(failures, sshmontest.Entry{"MESSAGE": fmt.Sprintf("Failed password for root from 203.0.113.9 port %d ssh2", i+1),
					"SYSLOG_IDENTIFIER": "sshd", "_COMM": "logger", "_EXE": "/usr/bin/logger", "_UID": "1000", "_PID": "9"})
			}
			failures = append(failures,
				sshmontest.Entry{"MESSAGE": "Accepted password for root from 203.0.113.9 port 22 ssh2",
					"SYSLOG_IDENTIFIER": "sshd", "_COMM": "logger", "_EXE": "/usr/bin/logger", "_UID": "1000", "_PID": "9"},
				// sshd's name, but not root: not sshd either
				sshmontest.Entry{"MESSAGE": "Accepted password for root from 203.0.113.10 port 22 ssh2",
					"SYSLOG_IDENTIFIER": "sshd", "_COMM": "sshd", "_EXE": "/home/mallory/sshd", "_UID": "1000", "_PID": "10"},
				// sshd's per-session process runs as the user: the end
				// of a session is not an imitation, nor anything else.
				sshmontest.Entry{"MESSAGE": "Disconnected from user alice 192.0.2.10 port 52144",
					"SYSLOG_IDENTIFIER": "sshd", "_COMM": "sshd", "_EXE": "/usr/sbin/sshd", "_UID": "1000", "_PID": "11", "_SYSTEMD_UNIT": "session-4.scope"},
				sshmontest.SSHD("Accepted password for root from 192.0.2.80 port 4 ssh2"),
			)
			j.Append(t, failures...)
			got := m.until(fromIP("192.0.2.80"))
			if count(got, event.SshLoginFailed) != 8 || count(got, event.SshBruteForce) != 1 || count(got, event.SshLogSpoofed) != 7 || len(got) != 17 {
				t.Fatalf("got %s\nwant six SshLoginFailed from 2001:db8::66, one SshBruteForce, one each from 192.0.2.78 and .79, seven entries posing as sshd, and the root login", describe(got))
			}
			for _, e := range got {
				if e.Type == event.SshLogSpoofed && (e.Severity != event.Medium || e.Metadata["sender_uid"] != "1000" || e.Metadata["claimed"] != "sshd" ||
					!strings.Contains(e.Metadata["message"], "203.0.113.")) {
					t.Errorf("spoofed entry %s", describe([]event.Event{e}))
				}
				if e.Type != event.SshLogSpoofed && strings.Contains(e.Path, "203.0.113.") {
					t.Errorf("a forged entry was believed: %s", describe([]event.Event{e}))
				}
			}
			for _, e := range got {
				switch e.Type {
				case event.SshBruteForce:
					if e.Severity != event.High || e.Path != "2001:db8::66" || e.Metadata["count"] != "5" || e.Metadata["window_seconds"] != "600" ||
						e.Metadata["users"] != "admin0,admin1,admin2,admin3,admin4" {
						t.Errorf("brute force %s", describe([]event.Event{e}))
					}
				case event.SshLoginFailed:
					if e.Severity != event.Low || e.Metadata["method"] != "password" || e.Metadata["reason"] == "" {
						t.Errorf("failure %s", describe([]event.Event{e}))
					}
				}
			}
			if last := got[len(got)-1]; last.Type != event.SshLogin || last.Severity != event.High {
				t.Errorf("a root password login is %s, want a High SshLogin", describe(got[len(got)-1:]))
			}
		})
	}
}

// Every entry of a journal file that appears after start is read (journald
// rotating, a new boot), not only its last: eight failures written into a
// new file are eight SshLoginFailed and one SshBruteForce.
func TestJournalNewFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history []sshmontest.Entry // in an older file, before start
	}{
		{"empty directory", nil},
		{"older file without sshd", []sshmontest.Entry{{"MESSAGE": "booted", "SYSLOG_IDENTIFIER": "kernel", "_PID": "1"}}},
		{"older file with sshd", []sshmontest.Entry{sshmontest.SSHD("Accepted password for root from 198.51.100.99 port 1 ssh2")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := sshmontest.NewJournal(t)
			if tc.history != nil {
				j.AppendTo(t, "system@old.journal", tc.history...)
			}
			cfg := defaults()
			cfg.JournalDirectory = j.Dir
			m := start(t, cfg)

			var failures []sshmontest.Entry
			for i := range 8 {
				failures = append(failures, sshmontest.SSHD(fmt.Sprintf("Failed password for bob from 192.0.2.50 port %d ssh2", 50000+i)))
			}
			failures = append(failures, sshmontest.SSHD("Accepted publickey for alice from 192.0.2.51 port 4 ssh2: "+fp))
			j.AddFile(t, "system.journal", failures...)
			got := m.until(fromIP("192.0.2.51"))
			if count(got, event.SshLoginFailed) != 8 || count(got, event.SshBruteForce) != 1 || len(got) != 10 {
				t.Fatalf("got %s\nwant eight SshLoginFailed from 192.0.2.50, one SshBruteForce and alice's login", describe(got))
			}
		})
	}
}
