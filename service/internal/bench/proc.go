package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runner owns everything the bench starts: each process is in its own
// process group with a parent-death signal, is remembered until it has been
// waited for, and stopAll ends whatever is left (a failed figure, Ctrl-C).
type runner struct {
	dir string // scratch directory, removed at the end
	bin string // binaries built for this run
	// logDir holds the daemons' output: on tmpfs when there is one.
	logDir string
	// noBus is set when dbus-daemon is missing: daemons run without D-Bus.
	noBus bool
	log   io.Writer

	mu    sync.Mutex
	procs map[*proc]struct{}
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "secmon-bench: "+format+"\n", args...)
}

// procSpec is a program to start.
type procSpec struct {
	name   string
	args   []string
	env    []string // added to the bench's environment
	stdout io.Writer
	stderr io.Writer
}

type proc struct {
	r     *runner
	label string
	cmd   *exec.Cmd
	done  chan struct{}
	err   error // cmd.Wait's, once done is closed
}

func (r *runner) start(ctx context.Context, label string, s procSpec) (*proc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cmd := exec.Command(s.name, s.args...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", label, err)
	}
	p := &proc{r: r, label: label, cmd: cmd, done: make(chan struct{})}
	r.mu.Lock()
	r.procs[p] = struct{}{}
	r.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		r.mu.Lock()
		delete(r.procs, p)
		r.mu.Unlock()
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(sig)
	}
}

var errStillRunning = errors.New("still running")

// wait waits up to d for the process to exit; it fails only if it has not.
// The exit status is exitErr's.
func (p *proc) wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("%s: %w after %v", p.label, errStillRunning, d)
	}
}

// exitErr is how the process ended (nil: exit status 0); call after done.
func (p *proc) exitErr() error { return p.err }

// stop ends the process: SIGTERM, then after 10 s SIGKILL to its whole
// process group. It returns how it ended.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if p.wait(10*time.Second) != nil {
		syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop within 10s of SIGTERM and was killed", p.label)
	}
	// Its helpers, if any, go with it.
	syscall.Kill(-p.pid(), syscall.SIGKILL)
	return p.err
}

// stopAll ends every process still running.
func (r *runner) stopAll() {
	r.mu.Lock()
	ps := make([]*proc, 0, len(r.procs))
	for p := range r.procs {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.stop() })
	}
	wg.Wait()
}

// tailBuffer keeps the last max bytes written to it, for error messages
// about a process whose output is too large to keep.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
	n   int64
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n += int64(len(p))
	t.b = append(t.b, p...)
	if len(t.b) > 2*t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// String is the kept tail, starting at a line boundary when it was cut.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.b
	if len(b) > t.max {
		b = b[len(b)-t.max:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimSpace(string(b))
}

// lastLines is the end of s, at most n lines, for a one-cell reason.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// notifySocket is a NOTIFY_SOCKET the bench owns, as systemd would: it is
// drained at once, and READY=1 closes ready.
type notifySocket struct {
	path  string
	conn  *net.UnixConn
	ready chan struct{}
}

func newNotifySocket(path string) (*notifySocket, error) {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("cannot bind the notify socket: %w", err)
	}
	n := &notifySocket{path: path, conn: c, ready: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		once := sync.OnceFunc(func() { close(n.ready) })
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			for _, line := range strings.Split(string(buf[:k]), "\n") {
				if line == "READY=1" {
					once()
				}
			}
		}
	}()
	return n, nil
}

func (n *notifySocket) close() { n.conn.Close() }

// startInotifywait runs inotifywait -m -r on tree for events, printing
// format, and returns its output once it says its watches are in place
// (within wait). The caller stops p and closes out.
func (r *runner) startInotifywait(ctx context.Context, tree, events, format string, wait time.Duration) (out *os.File, p *proc, err error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return nil, nil, err
	}
	p, err = r.start(ctx, "inotifywait", procSpec{name: "inotifywait", args: []string{"-m", "-r", "-e", events, "--format", format, tree}, stdout: pw, stderr: ew})
	pw.Close()
	ew.Close()
	if err != nil {
		pr.Close()
		er.Close()
		return nil, nil, err
	}
	if err := waitWatches(ctx, er, wait); err != nil {
		p.stop()
		pr.Close()
		return nil, nil, err
	}
	return pr, p, nil
}
