package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// syscallCount is one row of strace -c's summary.
type syscallCount struct {
	Name  string
	Calls int
}

// parseStraceSummary reads the table strace -c writes when it detaches:
//
//	% time     seconds  usecs/call     calls    errors syscall
//	------ ----------- ----------- --------- --------- ----------------
//	 62.50    0.000005           5         1           futex
//	------ ----------- ----------- --------- --------- ----------------
//	100.00    0.000008           2         4         1 total
//
// It returns the total and the rows, most calls first. strace writes
// nothing at all when it saw no call, which is a total of 0.
func parseStraceSummary(text string) (int, []syscallCount, error) {
	var rows []syscallCount
	total, sawTotal := 0, false
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) < 5 || strings.HasPrefix(f[0], "%") || strings.HasPrefix(f[0], "-") {
			continue
		}
		if _, err := strconv.ParseFloat(f[0], 64); err != nil {
			continue // a strace message, not a row
		}
		calls, err := strconv.Atoi(f[3])
		if err != nil {
			return 0, nil, fmt.Errorf("cannot parse strace's summary row %q: %w", strings.TrimSpace(line), err)
		}
		name := f[len(f)-1]
		if name == "total" {
			total, sawTotal = calls, true
			continue
		}
		rows = append(rows, syscallCount{name, calls})
	}
	if !sawTotal {
		if len(rows) > 0 {
			return 0, nil, fmt.Errorf("cannot parse strace's summary: rows without a total")
		}
		return 0, nil, nil
	}
	slices.SortStableFunc(rows, func(a, b syscallCount) int { return b.Calls - a.Calls })
	return total, rows, nil
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

// straceRun counts the system calls of pid and all its threads until stop
// is called.
type straceRun struct {
	r    *runner
	p    *proc
	out  string
	pid  int
	errs *tailBuffer
}

// startStrace attaches strace -f -c to pid and returns once strace has
// attached (it says so on stderr: "Process N attached with 8 threads"), so
// that the window that follows is counted whole.
func (r *runner) startStrace(ctx context.Context, pid int, dir string) (*straceRun, error) {
	out := filepath.Join(dir, fmt.Sprintf("strace-%d.txt", pid))
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errs := newTailBuffer(8 << 10)
	p, err := r.start(ctx, "strace", procSpec{
		name: "strace", args: []string{"-f", "-c", "-o", out, "-p", strconv.Itoa(pid)},
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

// stop detaches strace (SIGINT makes it write its summary) and parses the
// summary.
func (s *straceRun) stop() (int, []syscallCount, error) {
	s.p.signal(syscall.SIGINT)
	if err := s.p.wait(15 * time.Second); err != nil {
		s.p.stop()
		return 0, nil, fmt.Errorf("strace did not exit after SIGINT: %v: %s", err, s.errs.String())
	}
	b, err := os.ReadFile(s.out)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot read strace's summary: %w", err)
	}
	return parseStraceSummary(string(b))
}
