package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
)

// rssKB reads a process's resident set size.
func rssKB(t *testing.T, pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}

// 1,000 clients at once each get the same event; the daemon keeps serving.
func TestThousandClients(t *testing.T) {
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Max < 2200 {
		t.Skipf("needs 2,200 file descriptors, the hard limit is %d", lim.Max)
	}
	e := newEnv(t)
	e.writeConfig(t, "")
	startDaemon(t, []string{e.config})
	const n = 1000
	conns := make([]net.Conn, 0, n)
	readers := make([]*bufio.Reader, 0, n)
	for range n {
		c, err := net.Dial("unix", e.socket)
		if err != nil {
			t.Fatalf("client %d: %v", len(conns), err)
		}
		t.Cleanup(func() { c.Close() })
		// The daemon may accept a client after the event: the replay
		// request makes that no matter.
		if _, err := c.Write([]byte(`{"replay_after":0}` + "\n")); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		readers = append(readers, bufio.NewReader(c))
	}
	f := filepath.Join(e.tree, "for-everyone")
	os.WriteFile(f, nil, 0o644)
	deadline := time.Now().Add(30 * time.Second)
	for i, c := range conns {
		c.SetReadDeadline(deadline)
		for {
			line, err := readers[i].ReadBytes('\n')
			if err != nil {
				t.Fatalf("client %d of %d: %v", i, n, err)
			}
			if bytes.Contains(line, []byte(`"path":"`+f+`"`)) {
				break
			}
		}
	}
}

// Garbage from clients: a 10 MB line, invalid UTF-8, JSON of the wrong
// types. Each gets a clear error (or is cut off), nothing reaches other
// clients, the daemon stays up and its memory bounded.
func TestHostileClients(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(t, "")
	d := startDaemon(t, []string{e.config})
	reader := connect(t, e.socket)
	reader.send(`{"replay_after":0}`)
	before := rssKB(t, d.cmd.Process.Pid)

	for _, tc := range []struct {
		name, line, want string
	}{
		{"invalid UTF-8", "\xff\xfe{\"types\":[\"\xc3\x28\"]}", "bad request"},
		{"wrong types", `{"replay_after":"soon","types":"all"}`, "bad request"},
		{"wrong event type", `{"types":["RootKit"]}`, "unknown event type RootKit"},
		{"an event", `{"seq":1,"event_type":{"type":"SshAccess"},"path":"/forged","details":{"severity":"Critical"}}`, "unknown field"},
		{"10 MB", strings.Repeat("A", 10<<20), "longer than"},
	} {
		c, err := net.Dial("unix", e.socket)
		if err != nil {
			t.Fatal(err)
		}
		go func() { c.Write([]byte(tc.line + "\n")) }() // the daemon may stop reading a 10 MB line
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		r := bufio.NewReader(c)
		var got string
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				t.Fatalf("%s: no error line (%v), got %q", tc.name, err, got)
			}
			var m map[string]any
			if json.Unmarshal(line, &m) == nil && m["error"] != nil {
				got = m["error"].(string)
				break
			}
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: error %q, want it to say %q", tc.name, got, tc.want)
		}
		c.Close()
	}
	real := filepath.Join(e.tree, "real")
	os.WriteFile(real, nil, 0o644)
	for _, ev := range reader.until(pathIs(real)) {
		if ev.Path == "/forged" {
			t.Fatalf("a client's line reached another client: %+v", ev)
		}
	}
	// Bounded: a 10 MB line is never held whole (requests are capped at
	// 64 KB); allow the Go runtime its slack.
	if after := rssKB(t, d.cmd.Process.Pid); after > before+8<<10 {
		t.Errorf("RSS grew from %d KB to %d KB after hostile clients", before, after)
	}
}

// Running out of file descriptors does not stop the daemon: accept fails
// with EMFILE while clients crowd in (the daemon runs with a limit of 40),
// the daemon backs off and retries, its monitors keep watching, and once
// the crowd leaves a new client is served and gets what happened meanwhile.
func TestOutOfFileDescriptorsKeepsTheDaemonUp(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) is not installed:", err)
	}
	e := newEnv(t)
	e.writeConfig(t, "")
	// prlimit execs the daemon in its own process: the pid stays.
	d := launch(t, exec.Command("prlimit", "--nofile=40:40", "--", filepath.Join(bin, "secmon-daemon"), e.config))
	d.notify.waitFor("READY=1")
	var crowd []net.Conn
	for range 60 {
		c, err := net.Dial("unix", e.socket)
		if err != nil {
			break // the backlog is full
		}
		crowd = append(crowd, c)
	}
	// Wait until the daemon holds every descriptor it may: the clients
	// still in the backlog make accept fail with EMFILE.
	fds := func() int {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.cmd.Process.Pid))
		return len(ents)
	}
	if !testutil.Until(15*time.Second, func() bool { return fds() >= 40 }) {
		t.Fatalf("the daemon holds %d descriptors with %d clients, want 40", fds(), len(crowd))
	}
	during := filepath.Join(e.tree, "while-crowded")
	if err := os.WriteFile(during, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range crowd {
		c.Close()
	}
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	s.until(pathIs(during))
}
