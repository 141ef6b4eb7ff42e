package procinfo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Status is a parsed /proc/PID/status: the value of each "Key:" line,
// trimmed (see proc_pid_status(5)).
type Status map[string]string

// ReadStatus reads the status of pid under the /proc root given.
func ReadStatus(proc string, pid int) (Status, error) {
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, fmt.Errorf("cannot read the status of pid %d: %w", pid, err)
	}
	return ParseStatus(b), nil
}

// ParseStatus parses the text of a status file; lines without a colon are
// skipped.
func ParseStatus(b []byte) Status {
	s := Status{}
	for line := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok {
			s[string(k)] = string(bytes.TrimSpace(v))
		}
	}
	return s
}

// IDs are the numbers of an id line: for Uid and Gid the real, effective,
// saved and file-system ids in that order, for Groups the supplementary
// groups. Nil when the line is missing or not all numbers.
func (s Status) IDs(key string) []uint32 {
	f := strings.Fields(s[key])
	if len(f) == 0 {
		return nil
	}
	ids := make([]uint32, len(f))
	for i, v := range f {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil
		}
		ids[i] = uint32(n)
	}
	return ids
}

// PIDs lists the processes under the /proc root given, lowest first.
func PIDs(proc string) ([]int, error) {
	ents, err := os.ReadDir(proc)
	if err != nil {
		return nil, fmt.Errorf("cannot list processes: %w", err)
	}
	pids := make([]int, 0, len(ents))
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	// ReadDir sorts by name; "10" < "9".
	slices.Sort(pids)
	return pids, nil
}

// FDs lists the open file descriptors of pid as paths under its fd
// directory, for os.Readlink (socket:[INODE], a file name) or unix.Stat
// (the open file itself). An error when the process is gone or its fds are
// another user's and this process lacks CAP_SYS_PTRACE.
func FDs(proc string, pid int) ([]string, error) {
	dir := filepath.Join(proc, strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list the fds of pid %d: %w", pid, err)
	}
	fds := make([]string, len(ents))
	for i, e := range ents {
		fds[i] = filepath.Join(dir, e.Name())
	}
	return fds, nil
}
