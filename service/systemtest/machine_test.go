package systemtest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requirements skips the test, loudly, where it cannot run; in CI
// (CI=true) a skip is a failure, so a missing package cannot turn it off.
func requirements(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (debootstrap, mounts, systemd-nspawn)")
	}
	for prog, pkg := range map[string]string{
		"systemd-nspawn": "systemd-container", "debootstrap": "debootstrap", "nsenter": "util-linux",
		"make": "make", "scdoc": "scdoc", "go": "Go (bash .ci/setup)",
	} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, prog+" (Debian: "+pkg+")")
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "SYSTEM TEST NOT RUN: it needs " + strings.Join(missing, ", ") + "; install them with bash .ci/setup"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a skipped system test is a failure)")
	}
	t.Skip(msg)
}

// machine is one booted container.
type machine struct {
	t       *testing.T
	root    string // its root file system, as seen from the host
	console string // its console output
	leader  int    // its PID 1, as seen from the host
}

// boot starts systemd in root and waits until it has finished booting. The
// container is powered off (killed after a deadline) when the test ends.
func boot(t *testing.T, root string) *machine {
	t.Helper()
	m := &machine{t: t, root: root, console: filepath.Join(t.TempDir(), "console.log")}
	console, err := os.Create(m.console)
	if err != nil {
		t.Fatal(err)
	}
	// A name of its own: nspawn keeps per-name state on the host, and
	// other runs may boot theirs at the same time.
	name := fmt.Sprintf("secmon-systest-%d", os.Getpid())
	cmd := exec.Command("systemd-nspawn", "-q", "-b", "-D", root, "--machine="+name,
		"--register=no", "--keep-unit", "--private-network", "--console=read-only",
		// The monitors' needs, which nspawn withholds by default.
		"--capability=CAP_NET_ADMIN,CAP_BPF,CAP_PERFMON",
		"--system-call-filter=fanotify_init fanotify_mark bpf perf_event_open")
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start systemd-nspawn: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); console.Close(); close(exited) }()
	t.Cleanup(func() {
		// SIGTERM: nspawn asks the container's systemd to power off.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Logf("the container did not power off within 30 s: killing it")
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(m.console)
			t.Logf("container console (last lines):\n%s", tail(b, 30))
		}
	})

	start := time.Now()
	waitFor(t, 60*time.Second, "the container's PID 1", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return false
		}
		m.leader, _ = strconv.Atoi(f[0])
		// Inside once nspawn's child has become the container's systemd.
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", m.leader))
		return strings.TrimSpace(string(comm)) == "systemd"
	})
	var state string
	waitFor(t, 120*time.Second, "systemd to finish booting", func() bool {
		out, _ := m.run(context.Background(), "systemctl", "is-system-running", "--wait")
		state = strings.TrimSpace(out)
		return state == "running" || state == "degraded"
	})
	if state == "degraded" {
		out, _ := m.run(context.Background(), "systemctl", "--failed", "--no-legend")
		t.Logf("booted degraded; failed units:\n%s", out)
	}
	t.Logf("booted in %s", time.Since(start).Round(100*time.Millisecond))
	return m
}

// env is what every command inside gets: no variable of the test's.
var env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
	"TERM=dumb", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "SYSTEMD_LOG_COLOR=0"}

func (m *machine) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(m.leader), "-a", "--"}, args...)...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a command inside as root and returns its combined output.
func (m *machine) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := m.command(ctx, args...).CombinedOutput()
	return string(out), err
}

// must runs a command inside as root and fails the test if it fails.
func (m *machine) must(args ...string) string {
	m.t.Helper()
	out, err := m.run(context.Background(), args...)
	if err != nil {
		m.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// sh runs a shell script inside as root; it must succeed.
func (m *machine) sh(script string) string {
	m.t.Helper()
	return m.must("sh", "-euc", script)
}

// as prefixes a command so that it runs as user, with that user's groups.
func as(user string, args ...string) []string {
	return append([]string{"setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups", "--reset-env"}, args...)
}

// stream is a command inside whose output lines are read as they come.
type stream struct {
	t      *testing.T
	name   string
	cancel context.CancelFunc
	lines  chan string
	done   chan struct{}
	mu     sync.Mutex
	seen   []string
}

func (m *machine) stream(args ...string) *stream {
	m.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := m.command(ctx, args...)
	s := &stream{t: m.t, name: strings.Join(args, " "), cancel: cancel, lines: make(chan string, 10000), done: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("cannot start %s: %v", s.name, err)
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		cmd.Wait()
	}()
	m.t.Cleanup(s.stop)
	return s
}

// until returns the first line that matches, or fails the test after
// the deadline.
func (s *stream) until(timeout time.Duration, what string, match func(string) bool) string {
	s.t.Helper()
	l, ok, ended := s.wait(timeout, match)
	switch {
	case ended:
		s.t.Fatalf("%s ended before %s; it said:\n%s", s.name, what, s.output())
	case !ok:
		s.t.Fatalf("no %s within %s from %s; it said:\n%s", what, timeout, s.name, s.output())
	}
	return l
}

// wait returns the first line that matches within timeout; ok is false
// when none did, ended when the command ended first.
func (s *stream) wait(timeout time.Duration, match func(string) bool) (line string, ok, ended bool) {
	deadline := time.After(timeout)
	for {
		select {
		case l, open := <-s.lines:
			if !open {
				return "", false, true
			}
			s.mu.Lock()
			s.seen = append(s.seen, l)
			s.mu.Unlock()
			if match(l) {
				return l, true, false
			}
		case <-deadline:
			return "", false, false
		}
	}
}

// output returns what was read so far and what is buffered now.
func (s *stream) output() string {
drain:
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				break drain
			}
			s.mu.Lock()
			s.seen = append(s.seen, l)
			s.mu.Unlock()
		default:
			break drain
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return tail([]byte(strings.Join(s.seen, "\n")), 60)
}

func (s *stream) stop() {
	s.cancel()
	<-s.done
}

// ev is one event as secmon-client -json prints it.
type ev struct {
	Seq       uint64 `json:"seq"`
	EventType struct {
		Type string `json:"type"`
	} `json:"event_type"`
	Path    string `json:"path"`
	Details struct {
		Severity    string            `json:"severity"`
		Description string            `json:"description"`
		Metadata    map[string]string `json:"metadata"`
	} `json:"details"`
}

func (e ev) String() string {
	return fmt.Sprintf("#%d %s %s %s %q %v", e.Seq, e.EventType.Type, e.Details.Severity, e.Path, e.Details.Description, e.Details.Metadata)
}

// events reads the daemon's events with a seq above after (replayed, then
// live) until one matches, and returns them all. It fails the test if none
// matches within the deadline.
func (m *machine) events(after uint64, timeout time.Duration, what string, match func(ev) bool) []ev {
	m.t.Helper()
	s := m.stream("secmon-client", "-json", "-replay-after", strconv.FormatUint(after, 10))
	defer s.stop()
	var got []ev
	s.until(timeout, what, func(l string) bool {
		var e ev
		if json.Unmarshal([]byte(l), &e) != nil {
			return false
		}
		got = append(got, e)
		return match(e)
	})
	return got
}

// lastSeq is the daemon's LastSeq property (it activates the daemon).
func (m *machine) lastSeq() uint64 {
	m.t.Helper()
	out := m.must("busctl", "get-property", "org.pantheros.Secmon", "/org/pantheros/Secmon1", "org.pantheros.Secmon1", "LastSeq")
	f := strings.Fields(out)
	if len(f) != 2 || f[0] != "t" {
		m.t.Fatalf("LastSeq: %q", out)
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		m.t.Fatalf("LastSeq: %q", out)
	}
	return n
}

// unit returns systemd's properties of a unit inside.
func (m *machine) unit(name string, props ...string) map[string]string {
	m.t.Helper()
	out := m.must(append([]string{"systemctl", "show", name}, prefix("-p", props)...)...)
	got := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	return got
}

func prefix(flag string, vals []string) []string {
	var out []string
	for _, v := range vals {
		out = append(out, flag, v)
	}
	return out
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
