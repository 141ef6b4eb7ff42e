package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memory is what /proc says about a process's memory, in bytes.
type memory struct {
	RSS, HWM, PSS uint64
	// Anon is RssAnon: the heap, stacks and other private pages, apart
	// from the binary's and libraries' (RssFile).
	Anon uint64
	// Exe is the part of RSS that is the process's own executable file's
	// pages, and ExeSize that file's size.
	Exe, ExeSize uint64
}

// readMemory reads VmRSS, VmHWM and RssAnon from /proc/PID/status and Pss from
// /proc/PID/smaps_rollup.
func readMemory(pid int) (memory, error) {
	var m memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("cannot read the status of %d: %w", pid, err)
	}
	kv := parseKB(string(status))
	m.RSS, m.HWM, m.Anon = kv["VmRSS"], kv["VmHWM"], kv["RssAnon"]
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, fmt.Errorf("cannot read the memory map of %d: %w", pid, err)
	}
	m.PSS = parseKB(string(rollup))["Pss"]
	m.Exe, m.ExeSize, err = readExeResident(pid)
	return m, err
}

// readExeResident sums the Rss of pid's mappings of its own executable
// (/proc/PID/smaps, by the path /proc/PID/exe names) and gives the file's
// size.
func readExeResident(pid int) (resident, size uint64, err error) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("cannot name the executable of %d: %w", pid, err)
	}
	if fi, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		size = uint64(fi.Size())
	}
	smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, size, fmt.Errorf("cannot read the memory map of %d: %w", pid, err)
	}
	return exeRSS(string(smaps), exe), size, nil
}

// exeRSS sums the "Rss:" lines of the smaps entries whose path is exe.
func exeRSS(smaps, exe string) uint64 {
	var sum uint64
	in := false
	for line := range strings.Lines(smaps) {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && strings.Join(f[5:], " ") == exe
			continue
		}
		if in && len(f) == 3 && f[0] == "Rss:" {
			if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				sum += n << 10
			}
		}
	}
	return sum
}

// parseKB reads "Key:   1234 kB" lines (/proc/PID/status, smaps_rollup) into
// bytes by key; lines of another shape are ignored.
func parseKB(text string) map[string]uint64 {
	out := map[string]uint64{}
	for line := range strings.Lines(text) {
		key, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		out[key] = n << 10
	}
	return out
}

// readTicks is the CPU time a process has used, user plus system, in clock
// ticks (USER_HZ, 100 a second on Linux), all its threads included.
func readTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cannot read the CPU time of %d: %w", pid, err)
	}
	return parseStatTicks(string(b))
}

// parseStatTicks takes utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name, field 2, is in parentheses and may
// itself hold spaces and parentheses, so fields are counted from the last ')'.
func parseStatTicks(line string) (uint64, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, errors.New("cannot parse /proc/PID/stat: no command name")
	}
	f := strings.Fields(line[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("cannot parse /proc/PID/stat: %d fields after the name", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cannot parse /proc/PID/stat: %w", err)
	}
	return utime + stime, nil
}

// readSwitches is the number of context switches, voluntary and not, of all
// the process's threads: each is a wake-up or a preemption.
func readSwitches(pid int) (uint64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("cannot list the threads of %d", pid)
	}
	var n uint64
	for _, t := range tasks {
		f, err := os.Open(t)
		if err != nil {
			continue // a thread that ended
		}
		n += parseSwitches(f)
		f.Close()
	}
	return n, nil
}

func parseSwitches(r io.Reader) uint64 {
	var n uint64
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "voluntary_ctxt_switches" && key != "nonvoluntary_ctxt_switches") {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
		if err == nil {
			n += v
		}
	}
	return n
}
