package bench

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// syscallCount is how many calls of one system call a window saw.
type syscallCount struct {
	Name  string
	Calls int
}

// straceKind is what one line of strace's trace says.
type straceKind int

const (
	// straceCall is a call entered: whole ("read(…) = 3"), unfinished
	// ("futex(… <unfinished ...>") or cut off when strace detached
	// ("epoll_pwait(6,  <detached ...>").
	straceCall straceKind = iota
	// straceResumed ends a call an earlier line left unfinished:
	// "<... futex resumed>) = 0". It is not a call of its own.
	straceResumed
	// straceSignal is a signal delivered: "--- SIGURG {…} ---".
	straceSignal
	// straceExit is a thread or process gone: "+++ exited with 0 +++",
	// "+++ killed by SIGKILL +++".
	straceExit
)

// straceLine is one line of `strace -f -ttt -o FILE`.
type straceLine struct {
	pid  int // 0 when the line has no pid
	at   time.Time
	kind straceKind
	name string // the system call of a call or a resumption
}

// parseStraceLine reads one line of `strace -f -ttt`: an optional pid
// ("1234 " with -o, "[pid  1234] " on a terminal), the time in seconds
// since the epoch ("1796426966.135927"), then a call, a resumption, a
// signal or an exit.
func parseStraceLine(line string) (straceLine, error) {
	var l straceLine
	rest := strings.TrimRight(line, "\r\n")
	if r, ok := strings.CutPrefix(rest, "[pid"); ok {
		num, after, ok := strings.Cut(r, "]")
		pid, err := strconv.Atoi(strings.TrimSpace(num))
		if !ok || err != nil {
			return l, errors.New("bad [pid N] prefix")
		}
		l.pid, rest = pid, strings.TrimLeft(after, " ")
	}
	first, after, _ := strings.Cut(rest, " ")
	if l.pid == 0 && !strings.Contains(first, ".") {
		pid, err := strconv.Atoi(first)
		if err != nil {
			return l, errors.New("no pid or time at the start")
		}
		l.pid, rest = pid, strings.TrimLeft(after, " ")
		first, after, _ = strings.Cut(rest, " ")
	}
	at, err := parseUnixTime(first)
	if err != nil {
		return l, err
	}
	l.at, rest = at, strings.TrimLeft(after, " ")
	switch {
	case strings.HasPrefix(rest, "<... "):
		name, _, ok := strings.Cut(rest[len("<... "):], " resumed>")
		if !ok || !isSyscallName(name) {
			return l, errors.New("bad resumption")
		}
		l.kind, l.name = straceResumed, name
	case strings.HasPrefix(rest, "--- "):
		l.kind = straceSignal
	case strings.HasPrefix(rest, "+++ "):
		l.kind = straceExit
	default:
		name, _, ok := strings.Cut(rest, "(")
		if !ok || !isSyscallName(name) {
			return l, errors.New("neither a call, a resumption, a signal nor an exit")
		}
		l.kind, l.name = straceCall, name
	}
	return l, nil
}

// parseUnixTime reads -ttt's "SECONDS.FRACTION" (microseconds, or
// nanoseconds with --timestamps=unix,ns).
func parseUnixTime(s string) (time.Time, error) {
	sec, frac, ok := strings.Cut(s, ".")
	if !ok || sec == "" || frac == "" || len(frac) > 9 || !allDigits(sec) || !allDigits(frac) {
		return time.Time{}, fmt.Errorf("bad time %q (strace -ttt)", s)
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", s, err)
	}
	ns, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	return time.Unix(n, ns), nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isSyscallName accepts "epoll_pwait", "pread64" and strace's names for
// calls it does not know ("syscall_0x1c8", "???").
func isSyscallName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '?') {
			return false
		}
	}
	return true
}

// straceCounts is what a trace holds about a window.
type straceCounts struct {
	total int            // calls entered within the window
	calls []syscallCount // those, by name, most calls first
	// before is the calls entered between strace's attach and the
	// window's start: the threads' waits that the attach interrupted,
	// re-entered.
	before int
}

// countStraceCalls counts the calls of a `strace -f -ttt` trace entered
// from t0 to t1 (both included). A call is counted once, at the time it
// was entered: its resumption is not a call, and a wait entered before t0
// that ends inside the window is not counted. Signals and exits are not
// calls. A line that is none of these is an error, so that a format the
// parser does not know is never counted as quiet.
func countStraceCalls(text string, t0, t1 time.Time) (straceCounts, error) {
	var c straceCounts
	byName := map[string]int{}
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		l, err := parseStraceLine(line)
		if err != nil {
			return straceCounts{}, fmt.Errorf("cannot parse strace's line %q: %w", strings.TrimSpace(line), err)
		}
		if l.kind != straceCall {
			continue
		}
		switch {
		case l.at.Before(t0):
			c.before++
		case !l.at.After(t1):
			c.total++
			byName[l.name]++
		}
	}
	for name, n := range byName {
		c.calls = append(c.calls, syscallCount{name, n})
	}
	slices.SortFunc(c.calls, func(a, b syscallCount) int {
		return cmp.Or(b.Calls-a.Calls, strings.Compare(a.Name, b.Name))
	})
	return c, nil
}

// fmtSyscalls is "futex 3, epoll_pwait 1" (the first few), or "none".
func fmtSyscalls(rows []syscallCount, most int) string {
	if len(rows) == 0 {
		return "none"
	}
	var parts []string
	for i, r := range rows {
		if i == most {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", r.Name, r.Calls))
	}
	return strings.Join(parts, ", ")
}

// straceRun traces the system calls of pid and all its threads until stop
// is called.
type straceRun struct {
	r    *runner
	p    *proc
	out  string
	pid  int
	errs *tailBuffer
}

// startStrace attaches `strace -f -ttt -o FILE` to pid and returns once
// strace has attached to every thread (it says so on stderr once it has:
// "Process N attached with 8 threads"). The attach itself makes the
// threads' waits return and be entered again; the caller starts its window
// after that and counts from there (stop).
func (r *runner) startStrace(ctx context.Context, pid int, dir string) (*straceRun, error) {
	out := filepath.Join(dir, fmt.Sprintf("strace-%d.txt", pid))
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errs := newTailBuffer(8 << 10)
	p, err := r.start(ctx, "strace", procSpec{
		name: "strace", args: []string{"-f", "-ttt", "-o", out, "-p", strconv.Itoa(pid)},
		stderr: pw,
	})
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, err
	}
	attached := make(chan int, 64)
	go func() {
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			errs.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), "attached") {
				attached <- 1
			}
		}
		close(attached)
	}()
	select {
	case _, ok := <-attached:
		if !ok {
			return nil, fmt.Errorf("strace ended before attaching: %s", errs.String())
		}
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, fmt.Errorf("strace did not attach to %d within 10s: %s", pid, errs.String())
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	go func() {
		for range attached { // threads started later
		}
	}()
	return &straceRun{r: r, p: p, out: out, pid: pid, errs: errs}, nil
}

// stop detaches strace (SIGINT) and counts the calls its trace shows
// entered from t0 to t1.
func (s *straceRun) stop(t0, t1 time.Time) (straceCounts, error) {
	s.p.signal(syscall.SIGINT)
	if err := s.p.wait(15 * time.Second); err != nil {
		s.p.stop()
		return straceCounts{}, fmt.Errorf("strace did not exit after SIGINT: %v: %s", err, s.errs.String())
	}
	b, err := os.ReadFile(s.out)
	if err != nil {
		return straceCounts{}, fmt.Errorf("cannot read strace's trace: %w", err)
	}
	return countStraceCalls(string(b), t0, t1)
}
