package writer_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/writer"
)

// The test binary doubles as the writers: WRITER_APPEND=path appends a
// line to path and exits; WRITER_SSHD=addr (run as a copy named
// sshd-session) connects to addr, then runs itself as a writer and waits,
// like sshd running a session's shell.
func TestMain(m *testing.M) {
	if addr := os.Getenv("WRITER_SSHD"); addr != "" {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer c.Close()
		cmd := exec.Command(os.Getenv("WRITER_SHELL"))
		cmd.Env = append(os.Environ(), "WRITER_SSHD=", "SSH_CONNECTION=198.51.100.7 1 2 3") // forged: not to be believed
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if p := os.Getenv("WRITER_APPEND"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, err = f.WriteString("ssh-ed25519 AAAA test\n")
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if os.Getenv("WRITER_LINGER") != "" {
			os.Stdin.Read(make([]byte, 1)) // until the test closes stdin
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const nobody = 65534

// start runs a Tracker marking exactly the directories in holds.
func start(t *testing.T, holds ...string) *writer.Tracker {
	t.Helper()
	tr, err := writer.New(writer.Config{
		Holds:     func(d string) bool { return contains(holds, d) },
		Sensitive: func(p string) bool { return contains(holds, filepath.Dir(p)) },
	}, nil)
	if err != nil {
		t.Skip("writer:", err)
	}
	t.Logf("kernel: %s", tr.Features())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return tr
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sharedDir is a directory another user can write in, with a file in it
// that user may append to.
func sharedDir(t *testing.T) (dir, file string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "secmon-writer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(file, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

// appendAs runs the writer as nobody and returns it started; linger keeps
// it running until its stdin is closed.
func appendAs(t *testing.T, bin, file string, linger bool) *exec.Cmd {
	t.Helper()
	cmd := dbustest.RunAs(t, nobody, nobody, nil, bin)
	cmd.Env = append(os.Environ(), "WRITER_APPEND="+file)
	if linger {
		cmd.Env = append(cmd.Env, "WRITER_LINGER=1")
	}
	return cmd
}

func comm(bin string) string {
	c := filepath.Base(bin)
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

func last(t *testing.T, tr *writer.Tracker, path string, since time.Time) *writer.Writer {
	t.Helper()
	var w *writer.Writer
	testutil.WaitFor(t, 10*time.Second, "fanotify names the writer of "+path, func() bool {
		w = tr.Last(path, time.Now())
		return w != nil && !w.At.Before(since)
	})
	return w
}

func TestNamesWriterAsAnotherUser(t *testing.T) {
	dir, file := sharedDir(t)
	bin := dbustest.Executable(t)
	tr := start(t, dir)
	tr.Watch(dir)
	cmd := appendAs(t, bin, file, true)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := last(t, tr, file, since)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	if w.Process.PID != cmd.Process.Pid || w.Process.Comm != comm(bin) || w.Process.UID != nobody || w.Process.Exe != bin {
		t.Errorf("writer %+v, want pid %d comm %s uid %d exe %s", *w.Process, cmd.Process.Pid, comm(bin), nobody, bin)
	}
	if w.SSHFrom != "" {
		t.Errorf("ssh_from %q for a process in no SSH session", w.SSHFrom)
	}
	proc, md := tr.Attribute(file, w.At)
	if proc == nil || proc.PID != cmd.Process.Pid || md != nil {
		t.Errorf("Attribute = %+v, %v", proc, md)
	}
}

// A writer that exits at once, reaped by its parent at once (as a shell
// does), is still named by pid; its comm and uid are there when fanotify's
// event was read before the reaping, which the count below shows.
func TestNamesShortLivedWriters(t *testing.T) {
	dir, file := sharedDir(t)
	bin := dbustest.Executable(t)
	tr := start(t, dir)
	tr.Watch(dir)
	const n = 10
	named := 0
	for i := range n {
		cmd := appendAs(t, bin, file, false)
		since := time.Now()
		if err := cmd.Run(); err != nil { // reaped here
			t.Fatalf("writer %d: %v", i, err)
		}
		w := last(t, tr, file, since)
		if w.Process.PID != cmd.Process.Pid {
			t.Fatalf("writer %d: pid %d, want %d", i, w.Process.PID, cmd.Process.Pid)
		}
		if w.Process.Comm == comm(bin) && w.Process.UID == nobody {
			named++
		} else if w.Process.Comm != "" {
			t.Errorf("writer %d named %+v: not the writer", i, *w.Process)
		}
	}
	t.Logf("%d of %d short-lived writers named with comm and uid, all by pid", named, n)
}

// Only the directories Holds accepts get a mark: an ordinary directory
// costs nothing, its changes are not even read.
func TestOrdinaryDirectoryNotMarked(t *testing.T) {
	dir, _ := sharedDir(t)
	other := t.TempDir()
	tr := start(t, dir)
	tr.Watch(other)
	tr.Watch(dir)
	if got := tr.Marked(); len(got) != 1 || got[0] != dir {
		t.Errorf("marked %v, want only %s", got, dir)
	}
	if n := marks(t); n != 1 {
		t.Errorf("the kernel holds %d fanotify marks of this process, want 1", n)
	}
	p := filepath.Join(other, "plain")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if w := tr.Last(p, time.Now()); w != nil {
		t.Errorf("writer %+v named in an unmarked directory", *w.Process)
	}
	tr.Unwatch(dir)
	if n := marks(t); n != 0 {
		t.Errorf("%d fanotify marks left after Unwatch", n)
	}
}

// marks counts the fanotify inode marks of this process's fanotify fds,
// from /proc/self/fdinfo.
func marks(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fdinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		b, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			continue
		}
		n += strings.Count(string(b), "fanotify ino:")
	}
	return n
}

// A writer inside an SSH session is given the session's remote address:
// the peer of its sshd-session ancestor's TCP socket, not the
// SSH_CONNECTION its environment claims.
func TestSSHSessionAddress(t *testing.T) {
	dir, file := sharedDir(t)
	bin := dbustest.Executable(t)
	sshd := filepath.Join(filepath.Dir(bin), "sshd-session")
	if err := os.Link(bin, sshd); err != nil {
		t.Fatal(err)
	}
	// 127.0.0.3 stands for the client: the fake sshd-session's socket
	// has it as its peer.
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
	tr := start(t, dir)
	tr.Watch(dir)
	cmd := dbustest.RunAs(t, nobody, nobody, nil, sshd)
	cmd.Env = append(os.Environ(), "WRITER_SSHD="+ln.Addr().String(), "WRITER_SHELL="+bin, "WRITER_APPEND="+file, "WRITER_LINGER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := last(t, tr, file, since)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sshd-session: %v", err)
	}
	if w.SSHFrom != "127.0.0.3" {
		t.Errorf("ssh_from %q, want 127.0.0.3 (writer %+v)", w.SSHFrom, *w.Process)
	}
	if w.Process.PID == cmd.Process.Pid {
		t.Errorf("the writer is the sshd-session itself (pid %d)", w.Process.PID)
	}
	_, md := tr.Attribute(file, w.At)
	if md["ssh_from"] != "127.0.0.3" {
		p, _ := tr.Attribute(file, w.At)
		t.Errorf("Attribute metadata %v, process %+v", md, p)
	}
}
