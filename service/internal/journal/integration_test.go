package journal_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/journal"
)

// childDirEnv names the parent's temporary directory in a child.
const childDirEnv = "SECMON_JOURNAL_TEST_DIR"

// childNow is the hub's clock in the children, so that the parent can spell
// out the timestamps it expects.
var childNow = time.Date(2025, 9, 25, 14, 30, 45, 123456789, time.UTC)

const childTimestamp = "2025-09-25T14:30:45.123Z"

// childEvents are what both children publish, in this order, on a fresh
// hub: their sequence numbers are 1, 2 and 3.
func childEvents() []event.Event {
	return []event.Event{{
		Type:        event.CameraAccess, // High by default
		Path:        "/dev/video0",
		Description: "firefox opened /dev/video0",
		Metadata:    map[string]string{"mask": "OPEN", "odd key.ä": "two\nlines"},
		Process:     &event.Process{PID: 4242, Comm: "firefox", Exe: "/usr/bin/firefox", UID: 1000, User: "alice"},
	}, {
		Type:        event.FileModify,
		Severity:    event.Critical,
		Path:        "/etc/shadow",
		Description: "a Critical event\nthat a match on High leaves out",
		Process:     &event.Process{PID: 1, Comm: "systemd", UID: -1},
	}, {
		Type:        event.SshAccess, // High by default
		Path:        "/root/.ssh/authorized_keys",
		Description: "authorized_keys changed",
		Metadata:    map[string]string{"op": "WRITE", "blob": bigValue()},
	}}
}

// wantEntries are the journal fields of childEvents, spelled out.
func wantEntries() []map[string]string {
	return []map[string]string{{
		"MESSAGE":               "firefox opened /dev/video0",
		"PRIORITY":              "3",
		"SYSLOG_IDENTIFIER":     "secmon",
		"MESSAGE_ID":            "eff547c4f89240488e7f17c055bdfd25",
		"SECMON_EVENT_TYPE":     "CameraAccess",
		"SECMON_SEVERITY":       "High",
		"SECMON_PATH":           "/dev/video0",
		"SECMON_SEQ":            "1",
		"SECMON_TIMESTAMP":      childTimestamp,
		"SECMON_PID":            "4242",
		"SECMON_COMM":           "firefox",
		"SECMON_EXE":            "/usr/bin/firefox",
		"SECMON_UID":            "1000",
		"SECMON_USER":           "alice",
		"SECMON_META_MASK":      "OPEN",
		"SECMON_META_ODD_KEY__": "two\nlines",
	}, {
		"MESSAGE":           "a Critical event\nthat a match on High leaves out",
		"PRIORITY":          "2",
		"SYSLOG_IDENTIFIER": "secmon",
		"MESSAGE_ID":        "a7cdcd93a0594629bcab69e561d77eae",
		"SECMON_EVENT_TYPE": "FileModify",
		"SECMON_SEVERITY":   "Critical",
		"SECMON_PATH":       "/etc/shadow",
		"SECMON_SEQ":        "2",
		"SECMON_TIMESTAMP":  childTimestamp,
		"SECMON_PID":        "1",
		"SECMON_COMM":       "systemd",
	}, {
		"MESSAGE":           "authorized_keys changed",
		"PRIORITY":          "3",
		"SYSLOG_IDENTIFIER": "secmon",
		"MESSAGE_ID":        "583ab6bed48a45949d98c168c8709573",
		"SECMON_EVENT_TYPE": "SshAccess",
		"SECMON_SEVERITY":   "High",
		"SECMON_PATH":       "/root/.ssh/authorized_keys",
		"SECMON_SEQ":        "3",
		"SECMON_TIMESTAMP":  childTimestamp,
		"SECMON_META_OP":    "WRITE",
		"SECMON_META_BLOB":  bigValue(),
	}}
}

// bigValue is a metadata value too large for one datagram, so that
// go-systemd hands the entry over as a file descriptor. A datagram fails
// with EMSGSIZE above the sender's SO_SNDBUF, which starts at wmem_default.
func bigValue() string {
	n := 300 << 10
	if b, err := os.ReadFile("/proc/sys/net/core/wmem_default"); err == nil {
		if w, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && w+(64<<10) > n {
			n = w + 64<<10
		}
	}
	var sb strings.Builder
	for i := 0; sb.Len() < n; i++ {
		fmt.Fprintf(&sb, "line %07d of a value too large for a datagram\n", i)
	}
	return sb.String()[:n]
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test mounts over /run/systemd/journal in a private mount namespace")
	}
}

// tempDir0755 is a short path (socket paths must fit 108 bytes) that the
// child can reach; t.TempDir is 0700 and long.
func tempDir0755(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "secmon-journal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestIntegrationNativeProtocol runs the sink in a child whose
// /run/systemd/journal/socket is a socket of this test's, and checks every
// field of every entry as it arrives on the wire, including an entry large
// enough to travel as a file descriptor. It then closes the socket and has
// the child check that the next send fails, is logged and counted, and does
// not stop the sink.
func TestIntegrationNativeProtocol(t *testing.T) {
	requireRoot(t)
	dir := tempDir0755(t)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "socket"), Net: "unixgram"})
	if err != nil {
		t.Fatalf("cannot listen: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := startChild(t, "socket", dir)

	wantBinary := [][]string{
		{"SECMON_META_ODD_KEY__"},
		{"MESSAGE"},
		{"SECMON_META_BLOB"},
	}
	wantFD := []bool{false, false, true}
	for i, want := range wantEntries() {
		data, viaFD, err := readEntry(conn, time.Now().Add(wait))
		if err != nil {
			c.fatalf("entry %d: %v", i+1, err)
		}
		got, binaryKeys, err := parseNative(data)
		if err != nil {
			t.Fatalf("entry %d: %v", i+1, err)
		}
		if d := diffFields(got, want); d != "" {
			t.Errorf("entry %d fields differ:\n%s", i+1, d)
		}
		if !slices.Equal(binaryKeys, wantBinary[i]) {
			t.Errorf("entry %d: fields in the binary form %v, want %v", i+1, binaryKeys, wantBinary[i])
		}
		if viaFD != wantFD[i] {
			t.Errorf("entry %d: passed as a file descriptor = %v, want %v (%d bytes)", i+1, viaFD, wantFD[i], len(data))
		}
	}

	// A closed socket refuses datagrams: the child's next send fails.
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c.stdin, "closed\n"); err != nil {
		c.fatalf("cannot tell the child: %v", err)
	}
	c.waitExit(wait)
}

// socketChild is the child of TestIntegrationNativeProtocol, in its own
// mount namespace.
func socketChild() error {
	dir := os.Getenv(childDirEnv)
	if err := privateRun(); err != nil {
		return err
	}
	if err := bind(dir, "/run/systemd/journal"); err != nil {
		return err
	}
	recs := make(chan record, 16)
	s := journal.New(slog.New(newRecorder(recs)), io.Discard)
	if !s.UsingJournal() {
		return errors.New("journal.Enabled() is false with the test's socket on /run/systemd/journal/socket")
	}
	h := hub.New(hub.Options{Now: func() time.Time { return childNow }})
	stop := runSink(s, h)
	for _, e := range childEvents() {
		h.Publish(e)
	}

	// Wait for the parent to close its socket (no deadline: the parent
	// kills this process if it gives up).
	if line, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil || line != "closed\n" {
		return fmt.Errorf("read %q, %v from the parent, want \"closed\"", line, err)
	}
	select {
	case r := <-recs:
		return fmt.Errorf("logged before any send failed: %+v", r)
	default:
	}
	h.Publish(event.Event{Type: event.MonitorStatus, Description: "after the journal went away"})
	select {
	case r := <-recs:
		if r.Msg != "cannot send event to the journal" || r.Attrs["component"] != "journal" ||
			r.Attrs["failed_total"] != "1" || r.Attrs["unlogged"] != "0" ||
			!strings.Contains(r.Attrs["err"], "connection refused") {
			return fmt.Errorf("unexpected log record for a failed send: %+v", r)
		}
	case <-time.After(wait):
		return fmt.Errorf("no log record within %v of a send to a closed socket", wait)
	}
	if n := s.Failed(); n != 1 {
		return fmt.Errorf("Failed() = %d, want 1", n)
	}
	return stop()
}

// TestIntegrationJournaldAcceptsFields runs a real systemd-journald in a
// child's private mount namespace, has the sink write to it, and reads the
// entries back with journalctl, matching on SECMON_SEVERITY=High: journald
// keeps every field under the name the sink gave it, including a value
// passed as a file descriptor.
func TestIntegrationJournaldAcceptsFields(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat(journaldPath); err != nil {
		t.Skipf("no journald to test against: %v", err)
	}
	journalctl, err := exec.LookPath("journalctl")
	if err != nil {
		t.Skipf("no journalctl to read the journal back: %v", err)
	}
	dir := tempDir0755(t)
	journalDir := filepath.Join(dir, "journal")
	if err := os.Mkdir(journalDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Keep journald to itself: volatile storage (which the child binds to
	// journalDir) and nothing forwarded to the host's kernel log or consoles.
	conf := "[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\nForwardToKMsg=no\n" +
		"ForwardToConsole=no\nForwardToWall=no\n"
	if err := os.WriteFile(filepath.Join(dir, "journald.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "journald", dir)
	if line, err := c.readLine(wait); err != nil || line != "ready\n" {
		c.fatalf("child said %q, %v; want \"ready\"", line, err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var jcErr bytes.Buffer
	jc := exec.Command(journalctl, "--directory="+journalDir, "--follow", "--lines=all", "--all",
		"--output=json", "SECMON_SEVERITY=High")
	jc.Stdout = w
	jc.Stderr = &jcErr
	jc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := jc.Start(); err != nil {
		t.Fatalf("cannot start journalctl: %v", err)
	}
	_ = w.Close()
	jcDone := make(chan struct{})
	go func() { _ = jc.Wait(); close(jcDone) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-jc.Process.Pid, syscall.SIGKILL)
		<-jcDone
		_ = r.Close()
	})

	// Events 1 and 3 are High; 2 is Critical and must not match.
	all := wantEntries()
	want := []map[string]string{all[0], all[2]}
	lines := bufio.NewReader(r)
	deadline := time.Now().Add(wait)
	for i := range want {
		if err := r.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		line, err := lines.ReadBytes('\n')
		if err != nil {
			c.fatalf("entry %d from journalctl: %v (journalctl stderr: %s)", i+1, err, syncRead(jcDone, &jcErr))
		}
		got, err := decodeJournalJSON(line)
		if err != nil {
			t.Fatalf("entry %d: %v in %.300q", i+1, err, line)
		}
		if got["_TRANSPORT"] != "journal" {
			t.Errorf("entry %d: _TRANSPORT = %q, want \"journal\" (the native protocol)", i+1, got["_TRANSPORT"])
		}
		// Keep only what the sink sent: journald adds trusted fields
		// (leading '_') and journalctl its addresses ("__CURSOR").
		ours := map[string]string{}
		for k, v := range got {
			if !strings.HasPrefix(k, "_") {
				ours[k] = v
			}
		}
		if d := diffFields(ours, want[i]); d != "" {
			t.Errorf("entry %d as journald stored it differs:\n%s", i+1, d)
		}
	}
	if err := c.stdin.Close(); err != nil {
		t.Fatal(err)
	}
	c.waitExit(wait)
}

const journaldPath = "/lib/systemd/systemd-journald"

// journaldChild is the child of TestIntegrationJournaldAcceptsFields: in its
// own mount namespace, it gives journald an empty /run, the test's
// configuration and journal directory, starts it, and runs the sink.
func journaldChild() error {
	dir := os.Getenv(childDirEnv)
	if err := privateRun(); err != nil {
		return err
	}
	if err := os.MkdirAll("/run/log/journal", 0o755); err != nil {
		return err
	}
	if err := bind(filepath.Join(dir, "journal"), "/run/log/journal"); err != nil {
		return err
	}
	if err := bind(filepath.Join(dir, "journald.conf"), "/etc/systemd/journald.conf"); err != nil {
		return err
	}
	// Hide drop-ins that could override the test's configuration, and the
	// host's persistent journal.
	for _, d := range []string{"/etc/systemd/journald.conf.d", "/usr/local/lib/systemd/journald.conf.d",
		"/usr/lib/systemd/journald.conf.d", "/var/log/journal"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			if err := unix.Mount("tmpfs", d, "tmpfs", 0, "mode=0755"); err != nil {
				return fmt.Errorf("cannot hide %s: %w", d, err)
			}
		}
	}

	const notifyPath = "/run/secmon-test-notify"
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("cannot listen for sd_notify: %w", err)
	}
	defer notify.Close()
	var jdOut bytes.Buffer
	jd := exec.Command(journaldPath)
	jd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET=" + notifyPath, "SYSTEMD_LOG_TARGET=console"}
	jd.Stdout = &jdOut
	jd.Stderr = &jdOut
	jd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := jd.Start(); err != nil {
		return fmt.Errorf("cannot start journald: %w", err)
	}
	jdDone := make(chan error, 1)
	go func() { jdDone <- jd.Wait() }()
	stopped := false
	stopJournald := func() error {
		if stopped {
			return nil
		}
		stopped = true
		// journald handles SIGTERM after the datagrams already queued.
		_ = jd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-jdDone:
			if err != nil {
				return fmt.Errorf("journald: %v; its output:\n%s", err, jdOut.String())
			}
			return nil
		case <-time.After(wait):
			_ = jd.Process.Kill()
			<-jdDone
			return fmt.Errorf("journald did not stop within %v of SIGTERM; its output:\n%s", wait, jdOut.String())
		}
	}
	defer stopJournald()

	if err := waitReady(notify, time.Now().Add(wait)); err != nil {
		_ = jd.Process.Kill()
		<-jdDone
		stopped = true
		return fmt.Errorf("%v; journald's output:\n%s", err, jdOut.String())
	}
	rec := newRecorder(nil)
	s := journal.New(slog.New(rec), io.Discard)
	if !s.UsingJournal() {
		return errors.New("journal.Enabled() is false with journald running")
	}
	fmt.Println("ready")

	h := hub.New(hub.Options{Now: func() time.Time { return childNow }})
	stop := runSink(s, h)
	for _, e := range childEvents() {
		h.Publish(e)
	}
	// The parent closes stdin when it has read the entries back.
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := stop(); err != nil {
		return err
	}
	if err := stopJournald(); err != nil {
		return err
	}
	if rs := rec.records(); len(rs) != 0 {
		return fmt.Errorf("the sink logged %+v", rs)
	}
	return nil
}

// waitReady reads sd_notify messages until READY=1.
func waitReady(notify *net.UnixConn, deadline time.Time) error {
	if err := notify.SetReadDeadline(deadline); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for {
		n, err := notify.Read(buf)
		if err != nil {
			return fmt.Errorf("journald did not say READY=1: %w", err)
		}
		if slices.Contains(strings.Split(string(buf[:n]), "\n"), "READY=1") {
			return nil
		}
	}
}

// runSink runs s on h in the background; stop cancels it and returns Run's
// result.
func runSink(s *journal.Sink, h *hub.Hub) (stop func() error) {
	sub := h.Subscribe(hub.SubOptions{Name: "journal"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, sub) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("Run = %v, want nil after cancellation", err)
			}
			return nil
		case <-time.After(wait):
			return fmt.Errorf("Run did not return within %v of cancellation", wait)
		}
	}
}

// privateRun puts an empty tmpfs on /run, in the child's own mount
// namespace (exec's Unshareflags made every mount private), so that
// nothing the child does there reaches the host.
func privateRun() error {
	if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("cannot mount a tmpfs on /run: %w", err)
	}
	return os.MkdirAll("/run/systemd/journal", 0o755)
}

func bind(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("cannot bind %s to %s: %w", src, dst, err)
	}
	return nil
}

// rootIsMountPoint says why / is not the root of a mount (in a chroot, it is
// a directory of one), or nil.
func rootIsMountPoint() error {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, "/", unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &st); err != nil {
		return fmt.Errorf("cannot stat /: %w", err)
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return errors.New("the kernel does not say whether / is a mount point (statx before Linux 5.8)")
	}
	if st.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return errors.New("/ is not a mount point (a chroot?), so its propagation cannot be made private")
	}
	return nil
}

// child is a copy of the test binary in a new mount namespace.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *os.File
	lines  *bufio.Reader
	stderr bytes.Buffer // read only after done
	done   chan struct{}
	err    error
}

func startChild(t *testing.T, mode, dir string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := rootIsMountPoint(); err != nil {
		// Go's Unshareflags, like unshare(1), remounts / private so that
		// nothing the child mounts over /run and /etc reaches the host; that
		// fails with EINVAL where / is not a mount point, and without it the
		// child's mounts could reach the host.
		t.Skipf("cannot make a private mount namespace here: %v", err)
	}
	c := &child{t: t, done: make(chan struct{})}
	c.cmd = exec.Command(exe)
	c.cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childDirEnv+"="+dir)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNS,
		Setpgid:      true,
		Pdeathsig:    syscall.SIGKILL,
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stdout = w
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("cannot create a mount namespace here: %v", err)
		}
		t.Fatalf("cannot start the %s child: %v", mode, err)
	}
	_ = w.Close()
	c.stdout, c.lines = r, bufio.NewReader(r)
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.kill()
		_ = r.Close()
	})
	return c
}

// kill ends the child's process group (the child and what it started).
func (c *child) kill() {
	select {
	case <-c.done:
	default:
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

func (c *child) readLine(d time.Duration) (string, error) {
	if err := c.stdout.SetReadDeadline(time.Now().Add(d)); err != nil {
		return "", err
	}
	return c.lines.ReadString('\n')
}

// fatalf ends the test with the child's exit status and stderr, giving a
// child that is failing on its own a moment to say why.
func (c *child) fatalf(format string, args ...any) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	c.kill()
	c.t.Fatalf("%s\nchild: %v\nchild stderr:\n%s", fmt.Sprintf(format, args...), c.err, c.stderr.String())
}

func (c *child) waitExit(d time.Duration) {
	c.t.Helper()
	select {
	case <-c.done:
		if c.err != nil {
			c.t.Fatalf("child: %v\nchild stderr:\n%s", c.err, c.stderr.String())
		}
	case <-time.After(d):
		c.fatalf("child did not exit within %v", d)
	}
}

// syncRead returns what a command wrote into buf, if it has finished.
func syncRead(done <-chan struct{}, buf *bytes.Buffer) string {
	select {
	case <-done:
		return buf.String()
	default:
		return "(still running)"
	}
}

// readEntry receives one native-protocol entry: a datagram, or an empty
// datagram carrying a file descriptor whose contents are the entry.
func readEntry(conn *net.UnixConn, deadline time.Time) (data []byte, viaFD bool, err error) {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return nil, false, err
	}
	buf := make([]byte, 4<<20)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, false, err
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return nil, false, fmt.Errorf("datagram truncated (flags %#x)", flags)
	}
	if oobn == 0 {
		return buf[:n], false, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, false, err
	}
	var fds []int
	for _, m := range msgs {
		fs, err := unix.ParseUnixRights(&m)
		if err != nil {
			return nil, false, err
		}
		fds = append(fds, fs...)
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "journal-entry")
		defer files[i].Close()
	}
	if len(files) != 1 || n != 0 {
		return nil, false, fmt.Errorf("got %d bytes and %d descriptors, want an empty datagram and one descriptor", n, len(files))
	}
	fi, err := files[0].Stat()
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("descriptor is a %v, not a regular file", fi.Mode().Type())
	}
	// The sender's file offset is at the end: read from the start, as
	// journald does.
	data = make([]byte, fi.Size())
	if _, err := io.ReadFull(io.NewSectionReader(files[0], 0, fi.Size()), data); err != nil {
		return nil, false, fmt.Errorf("cannot read the passed file: %w", err)
	}
	return data, true, nil
}

// parseNative parses an entry in the journal native protocol
// (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/): KEY=value lines, or KEY,
// a newline, a little-endian 64-bit length, the value and a newline. It
// returns the fields and, in order, the keys that used the binary form.
// A key that journald would reject, or that appears twice, is an error.
func parseNative(data []byte) (map[string]string, []string, error) {
	fields := map[string]string{}
	var binaryKeys []string
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return nil, nil, fmt.Errorf("entry ends without a newline: %.80q", data)
		}
		line := data[:nl]
		var key, value string
		if eq := bytes.IndexByte(line, '='); eq >= 0 {
			key, value = string(line[:eq]), string(line[eq+1:])
			data = data[nl+1:]
		} else {
			key = string(line)
			rest := data[nl+1:]
			if len(rest) < 8 {
				return nil, nil, fmt.Errorf("field %s: no length", key)
			}
			size := binary.LittleEndian.Uint64(rest)
			rest = rest[8:]
			if uint64(len(rest)) < size+1 {
				return nil, nil, fmt.Errorf("field %s: length %d but %d bytes left", key, size, len(rest))
			}
			if rest[size] != '\n' {
				return nil, nil, fmt.Errorf("field %s: value not followed by a newline", key)
			}
			value = string(rest[:size])
			data = rest[size+1:]
			binaryKeys = append(binaryKeys, key)
		}
		if !validFieldName.MatchString(key) {
			return nil, nil, fmt.Errorf("field name %q would be dropped by journald", key)
		}
		if _, dup := fields[key]; dup {
			return nil, nil, fmt.Errorf("field %s sent twice", key)
		}
		fields[key] = value
	}
	return fields, binaryKeys, nil
}

// decodeJournalJSON reads one line of journalctl -o json. journalctl writes
// a value it does not consider printable text as an array of bytes.
func decodeJournalJSON(line []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		var b []int
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, fmt.Errorf("field %s is neither a string nor bytes (a repeated field?): %.80s", k, v)
		}
		bs := make([]byte, len(b))
		for i, x := range b {
			bs[i] = byte(x)
		}
		out[k] = string(bs)
	}
	return out, nil
}

// diffFields describes how got differs from want, abbreviating long values.
func diffFields(got, want map[string]string) string {
	short := func(s string) string {
		if len(s) > 80 {
			return fmt.Sprintf("%.60q… (%d bytes)", s, len(s))
		}
		return strconv.Quote(s)
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		switch {
		case !ok:
			fmt.Fprintf(&b, "  missing %s = %s\n", k, short(want[k]))
		case g != want[k]:
			fmt.Fprintf(&b, "  %s = %s, want %s\n", k, short(g), short(want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  unexpected %s = %s\n", k, short(got[k]))
		}
	}
	return b.String()
}
