package trigger_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/trigger"
)

// The test binary doubles as the trigger program: TestMain sets helperEnv
// in its own environment, which every trigger inherits, and a process that
// starts with it set acts as the helper instead of running tests.
const helperEnv = "SECMON_TRIGGER_TEST_HELPER"

// waitFor bounds every wait in these tests.
const waitFor = 15 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helper(os.Args[1:]))
	}
	os.Setenv(helperEnv, "1")
	// A race-enabled helper would otherwise linger a second after exiting,
	// holding its trigger slot.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// record is what a helper reports about itself over the test's socket.
type record struct {
	Mode  string
	PID   int
	PGID  int
	Argv  [][]byte // after mode and socket; bytes, so nothing is re-encoded
	Env   map[string][]byte
	Stdin string

	gone chan struct{} // closed when the helper's end of the connection closes
	conn net.Conn
}

// helper runs as a trigger program:
//
//	record SOCK ARGS…  report and exit
//	block SOCK ARGS…   report, then wait for the test to hang up
//	hang SOCK          start a "leaf" grandchild in the same process group, report, wait
//	leaf SOCK          report, wait
//	fail SOCK CODE     write 64 KiB and a marker to stdout, a line to stderr, exit CODE
func helper(args []string) int {
	// Nothing a test starts may outlive it by much, whatever goes wrong.
	time.AfterFunc(2*time.Minute, func() { os.Exit(99) })
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "helper: want MODE SOCKET [ARG…]")
		return 2
	}
	mode, sock, rest := args[0], args[1], args[2:]
	switch mode {
	case "fail":
		os.Stdout.WriteString(strings.Repeat("x", 64<<10) + "END-OF-STDOUT")
		os.Stderr.WriteString("something broke\n")
		var code int
		fmt.Sscan(rest[0], &code)
		return code
	case "hang":
		leaf := exec.Command(os.Args[0], "leaf", sock)
		if err := leaf.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	conn, err := report(mode, sock, rest)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if mode != "record" {
		io.Copy(io.Discard, conn) // until the test hangs up or we are killed
	}
	return 0
}

func report(mode, sock string, argv []string) (net.Conn, error) {
	rec := record{Mode: mode, PID: os.Getpid(), PGID: syscall.Getpgrp(), Env: map[string][]byte{}}
	for _, a := range argv {
		rec.Argv = append(rec.Argv, []byte(a))
	}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SECMON_") && k != helperEnv {
			rec.Env[k] = []byte(v)
		}
	}
	rec.Stdin, _ = os.Readlink("/proc/self/fd/0")
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(rec)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return conn, nil
}

// server receives the helpers' records.
type server struct {
	sock string
	recs chan *record
}

func newServer(t *testing.T) *server {
	t.Helper()
	// Short, for the 108-byte limit on socket paths.
	dir, err := os.MkdirTemp("", "secmon-trigger")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &server{sock: filepath.Join(dir, "s"), recs: make(chan *record, 64)}
	ln, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		procs []*os.Process
		wg    sync.WaitGroup
		quit  = make(chan struct{})
	)
	t.Cleanup(func() {
		close(quit)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		// A backstop: by now Run has returned and killed what it started.
		// FindProcess holds a pidfd, so a reused PID is never hit.
		for _, p := range procs {
			p.Kill()
			p.Release()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				br := bufio.NewReader(c)
				line, err := br.ReadBytes('\n')
				if err != nil {
					return // killed before it reported: a missing record fails the test
				}
				rec := &record{gone: make(chan struct{}), conn: c}
				if err := json.Unmarshal(line, rec); err != nil {
					t.Errorf("cannot decode a helper's record %q: %v", line, err)
					return
				}
				if p, err := os.FindProcess(rec.PID); err == nil {
					mu.Lock()
					procs = append(procs, p)
					mu.Unlock()
				}
				select {
				case s.recs <- rec:
				case <-quit:
					return
				}
				io.Copy(io.Discard, br)
				close(rec.gone)
			})
		}
	})
	return s
}

// next waits for the next record.
func (s *server) next(t *testing.T) *record {
	t.Helper()
	select {
	case r := <-s.recs:
		return r
	case <-time.After(waitFor):
		t.Fatalf("no trigger program reported within %v", waitFor)
		return nil
	}
}

// none checks that no record is waiting.
func (s *server) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-s.recs:
		t.Errorf("unexpected run: %s %q env %q", r.Mode, r.Argv, r.Env)
	default:
	}
}

// helperTrigger runs the test binary in mode.
func helperTrigger(name, mode string, s *server, args ...string) config.Trigger {
	return config.Trigger{Name: name, Command: os.Args[0], Args: append([]string{mode, s.sock}, args...)}
}

// fixture is a hub feeding a running Runner.
type fixture struct {
	hub  *hub.Hub
	r    *trigger.Runner
	logs *logRecorder
	stop func() // cancels Run and checks that it returns nil; idempotent
}

type fixtureOpts struct {
	noHubFilter bool // exercise Run's own matching
	clock       *clock
}

func start(t *testing.T, triggers []config.Trigger, o fixtureOpts) *fixture {
	t.Helper()
	logs := &logRecorder{changed: make(chan struct{})}
	r, err := trigger.New(triggers, slogNew(logs))
	if err != nil {
		t.Fatal(err)
	}
	if o.clock != nil {
		trigger.SetClock(r, o.clock.Now)
	}
	h := hub.New(hub.Options{})
	so := hub.SubOptions{Name: "triggers"}
	if !o.noHubFilter {
		so.Filter = r.Filter()
	}
	sub := h.Subscribe(so)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, sub) }()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil on cancellation", err)
			}
		case <-time.After(waitFor):
			t.Errorf("Run did not return within %v of cancellation", waitFor)
		}
	})
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			logs.dump(t)
		}
	})
	return &fixture{hub: h, r: r, logs: logs, stop: stop}
}

// clock is a manual clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 9, 25, 14, 30, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logRecorder keeps every slog record, for assertions on what was logged.
type logRecorder struct {
	mu      sync.Mutex
	recs    []logRec
	changed chan struct{} // closed and replaced on every record
}

type logRec struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (l *logRecorder) add(r logRec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	close(l.changed)
	l.changed = make(chan struct{})
}

// all returns the records for which match is true.
func (l *logRecorder) all(match func(logRec) bool) []logRec {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRec
	for _, r := range l.recs {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// wait returns the first record for which match is true, waiting for it.
func (l *logRecorder) wait(t *testing.T, what string, match func(logRec) bool) logRec {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		l.mu.Lock()
		for _, r := range l.recs {
			if match(r) {
				l.mu.Unlock()
				return r
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("timed out waiting for a log record: %s", what)
		}
	}
}

func (l *logRecorder) dump(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		t.Logf("log: %s %q %q", r.Level, r.Msg, r.Attrs)
	}
}

type logHandler struct {
	rec   *logRecorder
	attrs []slog.Attr
}

func (h logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	lr := logRec{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		lr.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		lr.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.rec.add(lr)
	return nil
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{rec: h.rec, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h logHandler) WithGroup(string) slog.Handler { return h }

func slogNew(l *logRecorder) *slog.Logger { return slog.New(logHandler{rec: l}) }
