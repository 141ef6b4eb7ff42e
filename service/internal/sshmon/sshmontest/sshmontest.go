// Package sshmontest fabricates sshd's journal entries for tests: it writes
// them in the journal export format and has systemd-journal-remote append
// them to a journal file in a directory the test owns, which the monitor
// (or the daemon) follows with [ssh] journal_directory. The file is a real
// journal, so sd-journal's own reading and change notification are what
// the test exercises.
//
// Pure Go: the e2e tests, which must build without cgo, use it too.
package sshmontest

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Entry is one journal entry's fields. __REALTIME_TIMESTAMP defaults to now.
type Entry map[string]string

// SSHD is a message as sshd-session (OpenSSH 9.8+) logs it under
// ssh.service, with the fields journald adds.
func SSHD(msg string) Entry {
	return Entry{
		"MESSAGE": msg, "SYSLOG_IDENTIFIER": "sshd-session", "_COMM": "sshd-session", "_PID": "4242",
		"_UID": "0", "_EXE": "/usr/lib/openssh/sshd-session", "_SYSTEMD_UNIT": "ssh.service", "PRIORITY": "6",
	}
}

// Journal is a directory holding one journal file that entries are appended to.
type Journal struct {
	Dir    string
	remote string
}

// NewJournal makes an empty journal directory under t.TempDir. It skips the
// test when systemd-journal-remote is not installed.
func NewJournal(t testing.TB) *Journal {
	t.Helper()
	j := &Journal{Dir: filepath.Join(t.TempDir(), "journal")}
	for _, p := range []string{"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			j.remote = p
			break
		}
	}
	if j.remote == "" {
		t.Skip("systemd-journal-remote is not installed (Debian: systemd-journal-remote)")
	}
	if err := os.Mkdir(j.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return j
}

// Append writes the entries, in order, to Dir/sshd.journal (a second call
// appends to the same file).
func (j *Journal) Append(t testing.TB, entries ...Entry) {
	t.Helper()
	j.AppendTo(t, "sshd.journal", entries...)
}

// AddFile makes a new journal file Dir/name (ending in .journal) holding
// the entries, all at once: written beside the directory and renamed into
// it, as journald's rotation and the flush to /var/log/journal make a file
// appear with entries already in it.
func (j *Journal) AddFile(t testing.TB, name string, entries ...Entry) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(j.Dir), "incoming")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	(&Journal{Dir: tmp, remote: j.remote}).AppendTo(t, name, entries...)
	if err := os.Rename(filepath.Join(tmp, name), filepath.Join(j.Dir, name)); err != nil {
		t.Fatal(err)
	}
}

// AppendTo writes the entries, in order, to the journal file Dir/name,
// which must end in .journal; a name not used before makes a new file.
func (j *Journal) AppendTo(t testing.TB, name string, entries ...Entry) {
	t.Helper()
	var export bytes.Buffer
	for _, e := range entries {
		if _, ok := e["__REALTIME_TIMESTAMP"]; !ok {
			e = clone(e)
			e["__REALTIME_TIMESTAMP"] = strconv.FormatInt(time.Now().UnixMicro(), 10)
		}
		keys := make([]string, 0, len(e))
		for k := range e {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := e[k]
			if strings.ContainsRune(v, '\n') {
				// The export format's binary form: name, newline, little
				// endian 64-bit length, the bytes, newline.
				export.WriteString(k + "\n")
				binary.Write(&export, binary.LittleEndian, uint64(len(v)))
				export.WriteString(v + "\n")
				continue
			}
			export.WriteString(k + "=" + v + "\n")
		}
		export.WriteString("\n")
	}
	cmd := exec.Command(j.remote, "--compress=no", "-o", filepath.Join(j.Dir, name), "-")
	cmd.Stdin = &export
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
}

func clone(e Entry) Entry {
	c := make(Entry, len(e)+1)
	for k, v := range e {
		c[k] = v
	}
	return c
}
