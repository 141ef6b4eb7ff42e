package correlate

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Proc is what the rules need to know of a running process.
type Proc struct {
	PID, PPID int
	// Session is its session id (the session leader's pid); TTY its
	// controlling terminal (0: none).
	Session, TTY int
	Start        time.Time
	Exe, Comm    string
}

// Procs describes running processes. Proc says false when the process is
// gone or cannot be read.
type Procs interface {
	Proc(pid int) (Proc, bool)
}

// maxAncestry bounds a walk up the process tree.
const maxAncestry = 64

// ancestors returns pid's ancestors, its parent first, up to but not
// including pid 1; ok is false when pid itself cannot be read.
func ancestors(ps Procs, pid int) (self Proc, up []Proc, ok bool) {
	if ps == nil || pid <= 0 {
		return Proc{}, nil, false
	}
	self, ok = ps.Proc(pid)
	if !ok {
		return Proc{}, nil, false
	}
	next := self.PPID
	for len(up) < maxAncestry && next > 1 {
		p, ok := ps.Proc(next)
		if !ok {
			break
		}
		up = append(up, p)
		next = p.PPID
	}
	return self, up, true
}

var sshdNames = []string{"sshd", "sshd-session"}

func isSSHD(p Proc) bool {
	for _, n := range sshdNames {
		if filepath.Base(p.Exe) == n || p.Comm == n {
			return true
		}
	}
	return false
}

// ProcFS reads processes from a proc file system.
type ProcFS struct {
	// Root is the proc mount, "/proc" when empty.
	Root string
	boot time.Time
}

// userHZ is the kernel's USER_HZ, the unit of /proc/PID/stat's start
// time: 100 on every Linux architecture.
const userHZ = 100

// Proc reads /proc/PID/stat, exe and comm.
func (f *ProcFS) Proc(pid int) (Proc, bool) {
	root := f.Root
	if root == "" {
		root = "/proc"
	}
	dir := filepath.Join(root, strconv.Itoa(pid))
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Proc{}, false
	}
	p, ticks, err := parseStat(b)
	if err != nil {
		return Proc{}, false
	}
	if f.boot.IsZero() {
		if f.boot, err = bootTime(root); err != nil {
			return Proc{}, false
		}
	}
	p.PID = pid
	p.Start = f.boot.Add(time.Duration(ticks) * time.Second / userHZ)
	p.Exe, _ = os.Readlink(filepath.Join(dir, "exe"))
	return p, true
}

// parseStat reads /proc/PID/stat: comm between the first '(' and the last
// ')' (a comm may hold both), then ppid (4th field), session (6th), tty_nr
// (7th) and starttime (22nd, in clock ticks since boot).
func parseStat(b []byte) (Proc, uint64, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return Proc{}, 0, fmt.Errorf("cannot parse stat: no comm")
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state).
	if len(f) < 20 {
		return Proc{}, 0, fmt.Errorf("cannot parse stat: %d fields", len(f)+2)
	}
	num := func(i int) int { n, _ := strconv.Atoi(f[i-3]); return n }
	start, err := strconv.ParseUint(f[22-3], 10, 64)
	if err != nil {
		return Proc{}, 0, fmt.Errorf("cannot parse stat: start time: %w", err)
	}
	return Proc{Comm: string(b[open+1 : end]), PPID: num(4), Session: num(6), TTY: num(7)}, start, nil
}

func bootTime(root string) (time.Time, error) {
	f, err := os.Open(filepath.Join(root, "stat"))
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot read the boot time: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("cannot read the boot time: %w", err)
			}
			return time.Unix(n, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read the boot time: no btime in %s/stat", root)
}
