package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// makeTree creates dirs directories under root (root included): root/t{i}
// with up to fan subdirectories each, root/t{i}/u{j}, and deeper levels as
// needed, breadth first.
func makeTree(root string, dirs, fan int) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	made := 1
	level := []string{root}
	for made < dirs {
		var next []string
		for _, parent := range level {
			for i := 0; i < fan && made < dirs; i++ {
				d := filepath.Join(parent, "d"+strconv.Itoa(i))
				if err := os.Mkdir(d, 0o755); err != nil {
					return fmt.Errorf("cannot make the tree: %w", err)
				}
				next = append(next, d)
				made++
			}
		}
		level = next
	}
	return nil
}

// idleSample is one process's idle figures.
type idleSample struct {
	mem       memory
	ticks     uint64
	switches  uint64
	syscalls  straceCounts
	straceErr error
}

// straceGrace is how long after strace has attached the idle window
// starts: ptrace's attach interrupts every thread's wait, and the Go
// runtime answers with a burst of calls (futex, nanosleep, …: 7 to 70 on
// quick runs here) within about 100 ms, then makes none for as long as it
// has been watched (20 s and more).
const straceGrace = time.Second

// watched is one process measured at idle.
type watched struct {
	label string
	pid   int
	t0    uint64
	s0    uint64
	st    *straceRun
	out   idleSample
}

// idleFigure starts -runs secmon daemons (all monitors on, one recursive
// watch over 1,000 directories, each with its own private bus) and as many
// floors side by side, lets them settle, then measures all of them over the
// same idle window.
func (b *bench) idleFigure(ctx context.Context) []section {
	const title = "Idle"
	o := b.opts
	tree, cleanup := b.treeDir(b.r.dir, "idle")
	defer cleanup()
	if err := makeTree(tree, 1000, 10); err != nil {
		return []section{failed(title, err)}
	}
	_, straceErr := exec.LookPath("strace")

	var daemons []*daemonProc
	var floors []*proc
	defer func() {
		for _, d := range daemons {
			d.stop()
		}
		for _, f := range floors {
			f.stop()
		}
	}()
	var ws []*watched
	var monitors []string
	for i := range o.runs {
		d, err := b.r.startDaemon(ctx, daemonOpts{tree: tree, allMonitors: true, bus: true, netns: true, ownCopy: true, asService: true})
		if err != nil {
			return []section{failed(title, err)}
		}
		daemons = append(daemons, d)
		ws = append(ws, &watched{label: "secmon", pid: d.pid()})
		if i == 0 {
			monitors, _ = d.monitors()
		}
		f, err := b.startFloor(ctx, tree)
		if err != nil {
			return []section{failed(title, err)}
		}
		floors = append(floors, f)
		ws = append(ws, &watched{label: "floor", pid: f.pid()})
	}
	b.r.logf("  settling %v, then %v of idle", o.settle, o.idle)
	if err := sleep(ctx, o.settle); err != nil {
		return []section{failed(title, err)}
	}
	for _, w := range ws {
		if straceErr == nil {
			st, err := b.r.startStrace(ctx, w.pid, b.r.dir)
			if err != nil {
				w.out.straceErr = err
			}
			w.st = st
		}
	}
	if err := sleep(ctx, straceGrace); err != nil {
		return []section{failed(title, err)}
	}
	from := time.Now()
	for _, w := range ws {
		w.t0, _ = readTicks(w.pid)
		w.s0, _ = readSwitches(w.pid)
	}
	if err := sleep(ctx, o.idle); err != nil {
		return []section{failed(title, err)}
	}
	to := time.Now()
	for _, w := range ws {
		t1, err := readTicks(w.pid)
		if err != nil {
			return []section{failed(title, fmt.Errorf("%s exited during the idle window: %w", w.label, err))}
		}
		s1, _ := readSwitches(w.pid)
		w.out.ticks, w.out.switches = t1-w.t0, s1-w.s0
		w.out.mem, _ = readMemory(w.pid)
	}
	var wg sync.WaitGroup
	for _, w := range ws {
		if w.st == nil {
			continue
		}
		wg.Go(func() {
			c, err := w.st.stop(from, to)
			w.out.syscalls = c
			if err != nil {
				w.out.straceErr = err
			}
		})
	}
	wg.Wait()
	// The daemon pages out what only start-up ran; what comes back once it
	// has worked is its working set, reported beside the idle figure.
	worked := make([]memory, len(daemons))
	for i, d := range daemons {
		m, err := afterWork(d, filepath.Join(tree, "w"+strconv.Itoa(i)), workFiles)
		if err != nil {
			return []section{failed(title, err)}
		}
		worked[i] = m
	}
	for _, d := range daemons {
		if err := d.stop(); err != nil {
			return []section{failed(title, err)}
		}
	}
	daemons = nil

	s := section{
		title: title,
		how: fmt.Sprintf("%d secmon-daemon processes (all monitors on, run as the NixOS module runs them: user nobody with the module's capabilities, one recursive watch over a tree of 1,000 directories, "+
			"%s, no client, in a network namespace of its own so that other programs' connections do not wake the network monitor) and %d floors (a Go program with fsnotify on 10 of those directories and a "+
			"Unix socket listener: service/internal/bench/floor) run side by side. After %v of settling, strace is attached to "+
			"each (`strace -f -ttt -o FILE -p PID`), and the window starts %v after it has attached to every thread: "+
			"the attach interrupts every thread's wait, and the Go runtime answers at once with calls of its own "+
			"(futex, nanosleep, restart_syscall, …; all within about 100 ms of the attach) that no unwatched process makes. Over the same %v window: CPU ticks (utime+stime, "+
			"/proc/PID/stat), context switches of all threads (/proc/PID/task/*/status) and the system calls strace shows "+
			"entered within it, by timestamp (a call is counted once, when entered: a wait entered before the window that "+
			"returns inside it is not counted, nor is a signal); RSS, RssAnon and PSS (/proc/PID/status, smaps_rollup) at "+
			"its end. Median (each process).", o.runs, busText(b.r.noBus), o.runs, fmtDur(o.settle), fmtDur(straceGrace), fmtDur(o.idle)),
		header: []string{"process", "RSS", "RSS (RssAnon) after " + strconv.Itoa(3*workFiles) + " events", "RssAnon", "PSS", "of RSS, its executable (of its size)", "CPU ticks / " + fmtDur(o.idle), "context switches / " + fmtDur(o.idle), "syscalls / " + fmtDur(o.idle), "system calls seen"},
	}
	if len(monitors) > 0 {
		s.notes = append(s.notes, "secmon's monitors: "+strings.Join(monitors, "; ")+".")
	}
	if straceErr != nil {
		s.notes = append(s.notes, "strace is not installed (apt-get install strace): no system call counts.")
	}
	meds := map[string]map[string]float64{}
	var afterRSS, afterAnon []float64
	for _, m := range worked {
		afterRSS = append(afterRSS, float64(m.RSS))
		afterAnon = append(afterAnon, float64(m.Anon))
	}
	for _, label := range []string{"secmon", "floor"} {
		var rss, anon, pss, exe, exeSize, ticks, sw, calls, before []float64
		var seen []string
		for _, w := range ws {
			if w.label != label {
				continue
			}
			rss = append(rss, float64(w.out.mem.RSS))
			anon = append(anon, float64(w.out.mem.Anon))
			pss = append(pss, float64(w.out.mem.PSS))
			exe = append(exe, float64(w.out.mem.Exe))
			exeSize = append(exeSize, float64(w.out.mem.ExeSize))
			ticks = append(ticks, float64(w.out.ticks))
			sw = append(sw, float64(w.out.switches))
			if w.out.straceErr != nil {
				s.notes = append(s.notes, fmt.Sprintf("%s pid %d: %v", label, w.pid, w.out.straceErr))
				continue
			}
			if w.st != nil {
				calls = append(calls, float64(w.out.syscalls.total))
				before = append(before, float64(w.out.syscalls.before))
				seen = append(seen, fmtSyscalls(w.out.syscalls.calls, 4))
			}
		}
		callCell := "–"
		if len(calls) > 0 {
			callCell = medianCell(calls, func(x float64) string { return fmtNum(x, 1) })
			s.notes = append(s.notes, fmt.Sprintf("Not counted, %s: %s calls between strace's attach and the window's start.",
				label, medianCell(before, func(x float64) string { return fmtNum(x, 0) })))
		}
		worked := "–"
		if label == "secmon" {
			worked = medianCell(afterRSS, fmtMB) + " (" + fmtMB(Median(afterAnon)) + ")"
		}
		s.rows = append(s.rows, []string{label, medianCell(rss, fmtMB), worked, medianCell(anon, fmtMB), medianCell(pss, fmtMB),
			medianCell(exe, fmtMB) + " (of " + fmtMB(Median(exeSize)) + ")",
			medianCell(ticks, func(x float64) string { return fmtNum(x, 1) }),
			medianCell(sw, func(x float64) string { return fmtNum(x, 1) }),
			callCell, strings.Join(seen, " / ")})
		meds[label] = map[string]float64{"rss": Median(rss), "anon": Median(anon), "ticks": Median(ticks), "calls": Median(calls),
			"exe": Median(exe), "exeSize": Median(exeSize)}
	}
	sec, fl := meds["secmon"], meds["floor"]
	s.goals = []goal{
		{"idle RSS, every monitor on", "≤ 10 MB", fmtMB(sec["rss"]) + " (" + fmtNum(sec["rss"]/fl["rss"], 2) + "× the floor)", fmtMB(fl["rss"]), met(sec["rss"] <= 10<<20)},
		{"idle RssAnon, every monitor on", "≤ 4 MB", fmtMB(sec["anon"]) + " (" + fmtNum(sec["anon"]/fl["anon"], 2) + "× the floor)", fmtMB(fl["anon"]), met(sec["anon"] <= 4<<20)},
		{"idle CPU", "0 ticks / " + fmtDur(o.idle), fmtNum(sec["ticks"], 1), fmtNum(fl["ticks"], 1), met(sec["ticks"] == 0)},
		{"idle system calls", "none of secmon's own (≤ the floor's)", fmtNum(sec["calls"], 1) + " / " + fmtDur(o.idle), fmtNum(fl["calls"], 1), met(sec["calls"] <= fl["calls"])},
	}
	if sec["exeSize"] > 0 && fl["exeSize"] > 0 {
		s.notes = append(s.notes, fmt.Sprintf("RSS counts the executable's pages mapped into the process: secmon has "+
			"%s of its %s executable resident (%.0f %%), the floor %s of %s (%.0f %%). Each daemon runs as the NixOS module runs it: as an unprivileged user (nobody for secmon) with the module's "+
			"capabilities, from a root-owned copy of the executable (setpriv). Once ready, secmon gives back the pages of its "+
			"read-only file mappings (the configuration's parser, the inventories, the eBPF loader ran once): madvise "+
			"MADV_RANDOM, MADV_PAGEOUT (which the kernel does only for a file the process owns or may write: nothing here), "+
			"MADV_DONTNEED on the pages that are the file's (a page it wrote, a library's relocations, stays), then "+
			"POSIX_FADV_DONTNEED on its executable: this kernel keeps a file's page cache in large folios and a fault maps "+
			"a whole folio back, so the folios no process maps leave the cache and come back a page at a time. "+
			"The column after the events is its working set: RSS once each daemon has "+
			"reported %d files created, written and deleted in its tree (a client counts them). RssAnon is the process's own memory.",
			fmtMB(sec["exe"]), fmtMB(sec["exeSize"]), 100*sec["exe"]/sec["exeSize"], fmtMB(fl["exe"]), fmtMB(fl["exeSize"]), 100*fl["exe"]/fl["exeSize"], workFiles))
	}
	if sec["calls"] > 0 && sec["calls"] <= fl["calls"] {
		s.notes = append(s.notes, "The floor makes the same calls: they are the Go runtime's. Its monitor thread "+
			"(sysmon) sleeps at most half the forced-GC period, a minute, and on waking re-reads the CPU limit "+
			"(sched_getaffinity, pread64 of the cgroup's cpu.max) before it sleeps again; a shorter window often sees none.")
	}
	if math.IsNaN(sec["calls"]) {
		s.goals[3].secmon, s.goals[3].met = "not measured (no strace)", "–"
	}
	return []section{s, b.perMonitor(ctx, tree, sec)}
}

// fmtAdded is a difference of memory; within 0.1 MB of nothing, "≈ 0".
func fmtAdded(d float64) string {
	if math.Abs(d) < 0.1*(1<<20) {
		return "≈ 0"
	}
	return fmtMB(d)
}

// perMonitor measures the idle daemon's memory with the filesystem monitor
// alone and with each other monitor beside it, one daemon at a time.
func (b *bench) perMonitor(ctx context.Context, tree string, all map[string]float64) section {
	const title = "Idle memory per monitor"
	s := section{
		title: title,
		how: fmt.Sprintf("One secmon-daemon at a time, as in the idle figure (the same tree, its own network namespace, "+
			"bus and root-owned copy of the executable, run as nobody with the module's capabilities), with the filesystem monitor alone and then with one more monitor; RSS and "+
			"RssAnon %v after READY (the daemon gives start-up's memory back 2 s after it). One run each: the idle "+
			"figure's spread (±0.3 MB) applies.", fmtDur(b.opts.settle)),
		header: []string{"monitors", "RSS", "RssAnon", "RssAnon added"},
	}
	var base float64
	for _, also := range append([]string{""}, optionalMonitors...) {
		d, err := b.r.startDaemon(ctx, daemonOpts{tree: tree, also: also, bus: true, netns: true, ownCopy: true, asService: true})
		if err != nil {
			return failed(title, err)
		}
		err = sleep(ctx, b.opts.settle)
		m, merr := readMemory(d.pid())
		if serr := d.stop(); err == nil {
			err = serr
		}
		if err == nil {
			err = merr
		}
		if err != nil {
			return failed(title, err)
		}
		name, added := "filesystem", "–"
		if also == "" {
			base = float64(m.Anon)
		} else {
			name += " + " + also
			added = fmtAdded(float64(m.Anon) - base)
		}
		s.rows = append(s.rows, []string{name, fmtMB(float64(m.RSS)), fmtMB(float64(m.Anon)), added})
	}
	s.rows = append(s.rows, []string{"all (the idle figure's median)", fmtMB(all["rss"]), fmtMB(all["anon"]), fmtAdded(all["anon"] - base)})
	return s
}

// workFiles is how many files afterWork creates, writes and deletes.
const workFiles = 100

// afterWork has d report files files created, written and deleted in dir
// (inside its watched tree), waits until a client of its own has read all
// of those events, and returns d's memory then.
func afterWork(d *daemonProc, dir string, files int) (memory, error) {
	c, err := d.dial()
	if err != nil {
		return memory{}, err
	}
	defer c.Close()
	if err := os.Mkdir(dir, 0o755); err != nil {
		return memory{}, err
	}
	done := make(chan error, 1)
	go func() {
		seen := 0
		deadline := time.Now().Add(30 * time.Second)
		done <- readLines(c, func(line []byte, _ int64) bool {
			if strings.Contains(string(line), dir+"/") {
				seen++
			}
			return seen >= 3*files
		}, func(time.Time) bool { return time.Now().After(deadline) })
	}()
	for i := range files {
		p := filepath.Join(dir, "f"+strconv.Itoa(i))
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			return memory{}, err
		}
		if err := os.Remove(p); err != nil {
			return memory{}, err
		}
	}
	if err := <-done; err != nil {
		return memory{}, fmt.Errorf("reading the daemon's events after the idle window: %w", err)
	}
	return readMemory(d.pid())
}

// startFloor runs the floor program on 10 directories of tree and waits for
// it to say it is ready.
func (b *bench) startFloor(ctx context.Context, tree string) (*proc, error) {
	dir, err := os.MkdirTemp(b.r.dir, "f")
	if err != nil {
		return nil, err
	}
	args := []string{filepath.Join(dir, "floor.sock")}
	for i := range 10 {
		args = append(args, filepath.Join(tree, "d"+strconv.Itoa(i)))
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	errs := newTailBuffer(4 << 10)
	p, err := b.r.start(ctx, "floor", procSpec{name: b.r.binPath("floor"), args: args, stdout: pw, stderr: errs})
	pw.Close()
	if err != nil {
		return nil, err
	}
	ready := make(chan bool, 1)
	go func() {
		buf := make([]byte, 16)
		n, _ := pr.Read(buf)
		ready <- strings.HasPrefix(string(buf[:n]), "ready")
	}()
	select {
	case ok := <-ready:
		if ok {
			return p, nil
		}
		err = fmt.Errorf("the floor did not start: %s", errs.String())
	case <-time.After(15 * time.Second):
		err = fmt.Errorf("the floor not ready within 15s: %s", errs.String())
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.stop()
	return nil, err
}

func busText(noBus bool) string {
	if noBus {
		return "no D-Bus (dbus-daemon is not installed)"
	}
	return "D-Bus on a private bus"
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// fmtDur is "60 s", "1.5 s", "250 ms".
func fmtDur(d time.Duration) string {
	if d >= time.Second {
		return fmtNum(d.Seconds(), 2) + " s"
	}
	return fmtNum(float64(d)/float64(time.Millisecond), 2) + " ms"
}
