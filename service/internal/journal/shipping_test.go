package journal_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/journal"
)

// exportEntry writes fields in the journal export format.
func exportEntry(b *bytes.Buffer, fields map[string]string) {
	for k, v := range fields {
		if strings.Contains(v, "\n") {
			b.WriteString(k + "\n")
			binary.Write(b, binary.LittleEndian, uint64(len(v)))
			b.WriteString(v + "\n")
			continue
		}
		b.WriteString(k + "=" + v + "\n")
	}
	b.WriteString("\n")
}

// The route data/journal-upload documents: a host's journal, uploaded by
// the real systemd-journal-upload to a real systemd-journal-remote, arrives
// with every SECMON_* field intact and can be queried on the central host.
func TestJournalUploadKeepsSecmonFields(t *testing.T) {
	for _, p := range []string{"/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-upload"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is missing (Debian: systemd-journal-remote)", p)
		}
	}
	dir := t.TempDir()
	host, central := filepath.Join(dir, "host"), filepath.Join(dir, "central")
	os.Mkdir(host, 0o755)
	os.Mkdir(central, 0o755)

	e := event.Event{Seq: 77, Time: time.Date(2025, 9, 25, 14, 30, 45, 0, time.UTC), Type: event.SshBruteForce,
		Severity: event.High, Path: "sshd", Description: "203.0.113.9 failed 6 times in 600s",
		Metadata: map[string]string{"remote_ip": "203.0.113.9", "count": "6", "users": "root, admin"},
		Process:  &event.Process{PID: 812, Comm: "sshd", UID: 0, User: "root"}}
	fields := journal.Fields(e)
	fields["__REALTIME_TIMESTAMP"] = strconv.FormatInt(e.Time.UnixMicro(), 10)
	var exp bytes.Buffer
	exportEntry(&exp, fields)
	mk := exec.Command("/lib/systemd/systemd-journal-remote", "--compress=no", "-o", filepath.Join(host, "host.journal"), "-")
	mk.Stdin = &exp
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("writing the host journal: %v\n%s", err, out)
	}

	// The central receiver, on a socket this test holds (socket activation).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lf, _ := l.(*net.TCPListener).File()
	l.Close()
	remote := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`,
		"/lib/systemd/systemd-journal-remote", "--listen-http=-3", "--split-mode=none", "-o", filepath.Join(central, "all.journal"))
	remote.ExtraFiles = []*os.File{lf}
	remote.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := remote.Start(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	t.Cleanup(func() { remote.Process.Signal(syscall.SIGTERM); remote.Wait() })

	port := l.Addr().(*net.TCPAddr).Port
	up := exec.Command("/lib/systemd/systemd-journal-upload", "-u", "http://127.0.0.1:"+strconv.Itoa(port),
		"-D", host, "--follow=no", "--save-state="+filepath.Join(dir, "state"))
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-upload: %v\n%s", err, out)
	}

	var got string
	testutil.WaitFor(t, 10*time.Second, "the entry in the central journal", func() bool {
		out, _ := exec.Command("journalctl", "--file", filepath.Join(central, "all.journal"), "-o", "export",
			"SECMON_EVENT_TYPE=SshBruteForce", "SECMON_SEVERITY=High").Output()
		got = string(out)
		return got != ""
	})
	for _, want := range []string{"SECMON_SEQ=77", "SECMON_META_REMOTE_IP=203.0.113.9", "SECMON_META_USERS=root, admin",
		"SECMON_COMM=sshd", "MESSAGE=203.0.113.9 failed 6 times in 600s", "PRIORITY=3"} {
		if !strings.Contains(got, "\n"+want+"\n") {
			t.Errorf("the central journal lacks %s; got:\n%s", want, got)
		}
	}
}

// The shipped examples are what their tools read.
func TestShippingExamplesParse(t *testing.T) {
	t.Run("datadog", func(t *testing.T) {
		if _, err := os.Stat("/usr/bin/python3"); err != nil {
			t.Skip("/usr/bin/python3 is missing")
		}
		if exec.Command("/usr/bin/python3", "-c", "import yaml").Run() != nil {
			t.Skip("python3-yaml is not installed (Debian: python3-yaml)")
		}
		out, err := exec.Command("/usr/bin/python3", "-c", `import json, sys, yaml
print(json.dumps(yaml.safe_load(open(sys.argv[1]))))`, "../../../data/datadog/journald.yaml").CombinedOutput()
		if err != nil {
			t.Fatalf("YAML: %v\n%s", err, out)
		}
		for _, want := range []string{`"type": "journald"`, `"include_units": ["secmon.service"]`, `"source": "secmon"`} {
			if !strings.Contains(string(out), want) {
				t.Errorf("data/datadog/journald.yaml parses to %s, without %s", out, want)
			}
		}
	})
	// Keys from journal-upload.conf(5) and journal-remote.conf(5).
	known := map[string]map[string][]string{
		"journal-upload.conf": {"Upload": {"URL", "ServerKeyFile", "ServerCertificateFile", "TrustedCertificateFile", "NetworkTimeoutSec"}},
		"journal-remote.conf": {"Remote": {"Seal", "SplitMode", "ServerKeyFile", "ServerCertificateFile", "TrustedCertificateFile", "MaxUse", "KeepFree", "MaxFileSize", "MaxFiles"}},
	}
	for file, sections := range known {
		b, err := os.ReadFile("../../../data/journal-upload/" + file)
		if err != nil {
			t.Fatal(err)
		}
		section := ""
		for n, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case regexp.MustCompile(`^\[\w+\]$`).MatchString(line):
				section = strings.Trim(line, "[]")
				if sections[section] == nil {
					t.Errorf("%s:%d: unknown section %s", file, n+1, line)
				}
			default:
				k, _, ok := strings.Cut(line, "=")
				found := false
				for _, want := range sections[section] {
					found = found || want == k
				}
				if !ok || !found {
					t.Errorf("%s:%d: %q is no key of [%s]", file, n+1, line, section)
				}
			}
		}
	}
}
