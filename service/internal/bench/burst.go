package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// observer is who watches a burst.
type observer struct {
	name    string
	clients int // secmon socket clients; 0 with inotifywait or nothing
	inotify bool
}

var observers = []observer{
	{name: "nothing watching"},
	{name: "inotifywait -m -r", inotify: true},
	{name: "secmon, 1 client", clients: 1},
	{name: "secmon, 10 clients", clients: 10},
}

// burstResult is one observed burst.
type burstResult struct {
	gen     workloadResult
	readers []*tally
	rss     uint64 // secmon's peak RSS (VmHWM) over the burst
	ticks   uint64 // the observer's CPU time over the burst, in ticks
}

// workloadResult is what the workload program prints.
type workloadResult struct {
	StartNS int64 `json:"start_ns"`
	EndNS   int64 `json:"end_ns"`
	Ops     int   `json:"ops"`
}

func (w workloadResult) duration() time.Duration { return time.Duration(w.EndNS - w.StartNS) }

// elapsed is from the burst's first operation to the last event t saw.
func (w workloadResult) elapsed(t *tally) time.Duration { return time.Duration(t.last - w.StartNS) }

// burstFigure runs the burst figure on the scratch directory's filesystem
// and, when there is one, on tmpfs.
func (b *bench) burstFigure(ctx context.Context) []section {
	secs := b.burstOn(ctx, b.r.dir)
	if b.fast != "" && ctx.Err() == nil {
		secs = append(secs, b.burstOn(ctx, b.fast)...)
	}
	return secs
}

// burstOn runs the same burst of file operations in base with nothing
// watching, with inotifywait, and with secmon to 1 and to 10 socket clients,
// -runs times in turn, and gives the throughput and loss table and the
// overhead table.
func (b *bench) burstOn(ctx context.Context, base string) []section {
	fs := fsType(base)
	tTitle, oTitle := "Throughput against inotifywait ("+fs+")", "Overhead on the watched workload ("+fs+")"
	results, errs, err := b.runBursts(ctx, base, fs)
	if err != nil {
		return []section{failed(tTitle, err), failed(oTitle, err)}
	}
	ops := 0
	for _, rs := range results {
		for _, r := range rs {
			ops = r.gen.Ops
		}
	}
	if ops == 0 {
		err := errors.New(strings.Join(errs, "; "))
		return []section{failed(tTitle, err), failed(oTitle, err)}
	}
	tput, over := b.burstSections(tTitle, oTitle, fs, ops)
	for _, e := range errs {
		tput.notes = append(tput.notes, "failed: "+e)
	}
	f := burstFigures{rate: map[string]float64{}, observed: map[string]float64{}, lost: map[string]float64{},
		cpuPerOp: map[string]float64{}, overhead: map[string]float64{}}
	var noneDur float64
	noisy := false
	for i, obs := range observers {
		rs := results[i]
		var durs []float64
		for _, r := range rs {
			durs = append(durs, r.gen.duration().Seconds())
		}
		if i == 0 {
			noneDur = Median(durs)
		}
		// Runs of one setup that differ this much measure the machine's
		// other work (its disk above all, on a shared machine), not the
		// observer.
		if lo, hi := slices.Min(durs), slices.Max(durs); !noisy && len(durs) > 1 && hi > 1.5*lo {
			note := fmt.Sprintf("The same burst with the same observer (%s) took from %s to %s: on %s here the "+
				"generator's speed is set by the machine's other work more than by who watches, so these ratios and "+
				"rates are noise more than measurement.", obs.name,
				fmtDur(time.Duration(lo*float64(time.Second))), fmtDur(time.Duration(hi*float64(time.Second))), fs)
			over.notes = append(over.notes, note)
			tput.notes = append(tput.notes, note)
			noisy = true
		}
		ratio := Median(durs) / noneDur
		over.rows = append(over.rows, []string{obs.name, medianCell(durs, func(x float64) string { return fmtNum(x, 3) + " s" }), fmtNum(ratio, 2) + "×"})
		if obs.clients > 0 {
			f.overhead[obs.name] = ratio
		}
		if i > 0 {
			tput.rows = append(tput.rows, f.add(obs, rs, ops, b.opts))
		}
	}
	f.judge(&tput, &over, fs, ops, noisy)
	return []section{tput, over}
}

// runBursts runs every observer's burst -runs times in turn: each
// observer's results, in the order of observers, and the runs that failed.
// err is set only when ctx ended.
func (b *bench) runBursts(ctx context.Context, base, fs string) (results [][]burstResult, errs []string, err error) {
	o := b.opts
	results = make([][]burstResult, len(observers))
	for run := range o.runs {
		for i, obs := range observers {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			b.r.logf("  %s, run %d: %s", fs, run+1, obs.name)
			res, err := b.burstRun(ctx, base, obs, o.burstFiles, o.nested, fmt.Sprintf("burst-%d-%d", run, i))
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s, run %d: %v", obs.name, run+1, err))
				continue
			}
			results[i] = append(results[i], res)
		}
	}
	return results, errs, nil
}

// burstSections makes the throughput and overhead tables' titles, texts
// and headers, without rows.
func (b *bench) burstSections(tTitle, oTitle, fs string, ops int) (tput, over section) {
	o := b.opts
	tput = section{
		title: tTitle,
		how: fmt.Sprintf("One burst: %s files each created, written (64 bytes) and deleted at once, spread over 10 "+
			"existing subdirectories, and %d nested chains (`mkdir -p n/a/b/c/d` then a file written inside) spread "+
			"through it: %s operations, made by a separate generator program (service/internal/bench/workload) as fast "+
			"as it can, in a recursively watched tree on %s. Observed in turn by `inotifywait -m -r` (same inotify mask as "+
			"secmon's: create, modify, attrib, delete, move; its output read by the bench) and by secmon with 1 and 10 "+
			"socket clients in the bench's process (each free to run on a thread of its own, as a client process would); %d runs, medians. *events/s* is what a reader received divided by "+
			"the time from the burst's first operation to its last event. *observer's CPU* is the user and system time "+
			"the daemon (or inotifywait) used from the burst's start until its readers were done. secmon folds a write right after a creation "+
			"into the FileCreate, so it sends 2 events per file where inotifywait prints 3: *observed in* (the time "+
			"until the reader had seen everything) compares the two on the same work. *missed* compares, path by path, "+
			"the creations and deletions seen with those made; a missed nested file is a chain whose file was never "+
			"reported created. inotifywait prints nothing on `IN_Q_OVERFLOW`, so its losses show only there.",
			fmtNum(float64(o.burstFiles), 0), o.nested, fmtNum(float64(ops), 0), fs, o.runs),
		header: []string{"observer", "events per reader", "events/s", "observed in", "observer's CPU", "kernel queue overflows", "dropped for slow clients", "missed creations+deletions", "missed nested files"},
	}
	over = section{
		title: oTitle,
		how: "The same bursts: how long the generator took to make them (first to last operation) with nothing " +
			"watching, and with each observer watching; the ratio is to nothing watching. Medians of the runs.",
		header: []string{"watching", "burst took", "ratio"},
	}
	return tput, over
}

// burstFigures are the medians the goals are judged on, per observer name.
type burstFigures struct {
	rate, observed, lost map[string]float64
	cpuPerOp             map[string]float64 // CPU seconds per file operation
	overhead             map[string]float64 // burst time watched / not watched
}

// add summarises an observer's runs: its throughput table row, and its
// figures kept in f.
func (f burstFigures) add(obs observer, rs []burstResult, ops int, o *options) []string {
	var events, evps, obsIn, cpu, kernel, dropped, missed, nested []float64
	for _, r := range rs {
		// Per run: the median reader's events and rate, the slowest
		// reader's time, the worst reader's losses.
		var ev, ps []float64
		slowest, worstMiss, worstNested, drops, kern := 0.0, 0.0, 0.0, 0.0, 0.0
		for _, t := range r.readers {
			el := r.gen.elapsed(t).Seconds()
			ev = append(ev, float64(t.events))
			ps = append(ps, float64(t.events)/el)
			slowest = math.Max(slowest, el)
			c, d, nf, _ := t.missed()
			worstMiss = math.Max(worstMiss, float64(c+d))
			worstNested = math.Max(worstNested, float64(nf))
			drops += float64(t.dropped)
			kern = math.Max(kern, float64(t.kernel))
		}
		cpu = append(cpu, float64(r.ticks)/100)
		events = append(events, Median(ev))
		evps = append(evps, Median(ps))
		obsIn = append(obsIn, slowest)
		kernel = append(kernel, kern)
		dropped = append(dropped, drops)
		missed = append(missed, worstMiss)
		nested = append(nested, worstNested)
	}
	f.rate[obs.name] = Median(evps)
	f.observed[obs.name] = Median(obsIn)
	f.lost[obs.name] = Median(missed) + Median(nested)
	f.cpuPerOp[obs.name] = Median(cpu) / float64(ops)
	n0 := func(x float64) string { return fmtNum(x, 0) }
	kernCell, dropCell := medianCell(kernel, n0), medianCell(dropped, n0)
	if obs.inotify {
		kernCell, dropCell = "not reported", "–"
	}
	return []string{obs.name, medianCell(events, n0), medianCell(evps, n0),
		medianCell(obsIn, func(x float64) string { return fmtNum(x, 3) + " s" }),
		medianCell(cpu, func(x float64) string { return fmtNum(x, 2) + " s" }), kernCell, dropCell,
		medianCell(missed, n0) + " of " + fmtNum(float64(2*o.burstFiles), 0),
		medianCell(nested, n0) + " of " + strconv.Itoa(o.nested)}
}

// judge adds the ratio rows and the goals: each secmon observer against
// inotifywait, each overhead against 1.5×; noisy marks them as noise.
func (f burstFigures) judge(tput, over *section, fs string, ops int, noisy bool) {
	iw := observers[1].name
	tput.notes = append(tput.notes, "The goal is judged on *observed in*: the same operations seen in less time. "+
		"Events per second alone would favour whoever sends more lines for the same work.")
	for _, obs := range observers[2:] {
		r := f.rate[obs.name] / f.rate[iw]
		c := f.observed[iw] / f.observed[obs.name]
		tput.rows = append(tput.rows, []string{"ratio " + obs.name + " / inotifywait", "", fmtNum(r, 2) + "×", fmtNum(c, 2) + "× as fast", "", "", "", "", ""})
		if cw, cs := f.cpuPerOp[iw], f.cpuPerOp[obs.name]; cw > 0 {
			tput.goals = append(tput.goals, goal{fs + " CPU per file operation, " + obs.name, "≤ 2× inotifywait",
				fmtNum(cs*1e6, 1) + " µs (" + fmtNum(cs/cw, 2) + "×)", "inotifywait: " + fmtNum(cw*1e6, 1) + " µs", met(cs <= 2*cw)})
		}
		tput.goals = append(tput.goals,
			goal{fs + " burst rate, " + obs.name + " / inotifywait", "≥ 1.0 (operations observed a second)", fmtNum(c, 2) + "× (events/s: " + fmtNum(r, 2) + "×)", "inotifywait: " + fmtNum(float64(ops)/f.observed[iw], 0) + " operations/s", met(c >= 1)},
			goal{fs + " burst loss, " + obs.name, "nothing inotifywait did not lose; 0 nested missed", fmtNum(f.lost[obs.name], 0) + " missed", "inotifywait: " + fmtNum(f.lost[iw], 0) + " missed", met(f.lost[obs.name] == 0)},
		)
	}
	for _, obs := range observers[2:] {
		over.goals = append(over.goals, goal{fs + " overhead, " + obs.name, "≤ 1.5×", fmtNum(f.overhead[obs.name], 2) + "×", "–", met(f.overhead[obs.name] <= 1.5)})
	}
	if noisy {
		for _, s := range []*section{tput, over} {
			for i := range s.goals {
				s.goals[i].met += " (noise: see its table)"
			}
		}
	}
}

// burstRun prepares a fresh tree in base, starts the observer, waits until
// every reader sees a first event, runs the workload and collects what each
// reader saw.
func (b *bench) burstRun(ctx context.Context, base string, obs observer, files, nested int, name string) (burstResult, error) {
	tree, cleanup := b.treeDir(base, name)
	defer cleanup()
	if err := prepareBurstTree(tree); err != nil {
		return burstResult{}, err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var genEnd atomic.Int64 // unix ns when the generator ended; 0 before
	w, err := b.startObserver(ctx, tree, obs, files, nested, burstDrain.idle(lctx, &genEnd))
	if err != nil {
		return burstResult{}, err
	}
	defer w.close()

	err = warmUp(ctx, filepath.Join(tree, "warm"), w.warm)
	var gen workloadResult
	var ticks0 uint64
	if err == nil {
		ticks0 = w.ticks()
		gen, err = b.runWorkload(ctx, tree, files, nested, true)
	}
	if err != nil {
		cancel()
		w.wg.Wait()
		return burstResult{}, err
	}
	genEnd.Store(gen.EndNS)
	w.wg.Wait()
	if err := ctx.Err(); err != nil {
		return burstResult{}, err
	}
	return w.result(gen, ticks0)
}

// makeBurstDirs makes the 10 subdirectories the workload's files go in.
func makeBurstDirs(tree string) error {
	for k := range 10 {
		if err := os.MkdirAll(filepath.Join(tree, "s"+strconv.Itoa(k)), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// prepareBurstTree makes the workload's subdirectories in tree and flushes
// its filesystem.
func prepareBurstTree(tree string) error {
	if err := makeBurstDirs(tree); err != nil {
		return err
	}
	// What earlier runs and figures deleted is still being written back
	// and, where the filesystem discards, trimmed; it must not slow this
	// run's generator.
	return syncFS(tree)
}

// burstDrain: a reader has had all it will get of a burst once it has been
// quiet for 3 s, 3 s after the burst's end, or 5 minutes after it in any
// case.
var burstDrain = drain{settle: 3 * time.Second, silence: 3 * time.Second, limit: 5 * time.Minute}

// burstReader is what one reader saw of a burst, counted from the warm-up
// file on.
type burstReader struct {
	t      *tally
	warm   string
	warmed atomic.Bool
}

func newBurstReader(l Layout, files, nested int) *burstReader {
	return &burstReader{t: newTally(l, files, nested), warm: filepath.Join(l.Root, "warm")}
}

// secmonLine counts one of the daemon's JSON lines, read at now (unix ns);
// true once the burst's end is seen.
func (rd *burstReader) secmonLine(line []byte, now int64) bool {
	li, ok := parseLine(line)
	if !ok || !rd.warmedBy(li.Path) {
		return false
	}
	if li.Type == "EventsDropped" {
		if li.Monitor == "filesystem" {
			rd.t.kernel++
		} else {
			rd.t.dropped += li.Dropped
		}
	}
	rd.t.add(secmonOp(li.Type), li.Path, now)
	return rd.t.done
}

// inotifyLine counts one line of inotifywait --format '%e %w%f', read at
// now (unix ns); true once the burst's end is seen.
func (rd *burstReader) inotifyLine(line []byte, now int64) bool {
	evs, path, ok := parseInotifyLine(strings.TrimSuffix(string(line), "\n"))
	if !ok || !rd.warmedBy(path) {
		return false
	}
	rd.t.add(inotifyOp(evs), path, now)
	return rd.t.done
}

// warmedBy is whether an event on path is to be counted: not the warm-up
// file's (which warms the reader), and not before it.
func (rd *burstReader) warmedBy(path string) bool {
	if path == rd.warm {
		rd.warmed.Store(true)
		return false
	}
	return rd.warmed.Load()
}

// watching is a burst's observer with its readers, each in a goroutine of
// wg.
type watching struct {
	readers []*burstReader
	pid     int         // the observer's; 0 with nothing watching
	d       *daemonProc // secmon; nil otherwise
	wg      sync.WaitGroup
	closers []func()
}

// startObserver starts obs on tree and its readers, which stop on idle.
// The caller closes it.
func (b *bench) startObserver(ctx context.Context, tree string, obs observer, files, nested int, idle func(time.Time) bool) (w *watching, err error) {
	w = &watching{}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	layout := Layout{Root: tree}
	switch {
	case obs.inotify:
		pr, p, err := b.r.startInotifywait(ctx, tree, "create,modify,attrib,delete,delete_self,move,move_self", "%e %w%f", 60*time.Second)
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, func() { p.stop() })
		w.pid = p.pid()
		rd := newBurstReader(layout, files, nested)
		w.readers = append(w.readers, rd)
		w.wg.Go(func() {
			defer pr.Close()
			readLines(pr, rd.inotifyLine, idle)
		})
	case obs.clients > 0:
		d, err := b.r.startDaemon(ctx, daemonOpts{tree: tree, bus: true})
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, func() { d.stop() })
		w.d, w.pid = d, d.pid()
		for range obs.clients {
			c, err := d.dial()
			if err != nil {
				return nil, err
			}
			w.closers = append(w.closers, func() { c.Close() })
			rd := newBurstReader(layout, files, nested)
			w.readers = append(w.readers, rd)
			w.wg.Go(func() { readLines(c, rd.secmonLine, idle) })
		}
	}
	return w, nil
}

// close stops the observer and closes the readers' connections, last
// opened first.
func (w *watching) close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
}

// warm is whether every reader has seen the warm-up file.
func (w *watching) warm() bool {
	for _, rd := range w.readers {
		if !rd.warmed.Load() {
			return false
		}
	}
	return true
}

// ticks is the observer's CPU time so far (0 with no observer).
func (w *watching) ticks() uint64 {
	if w.pid == 0 {
		return 0
	}
	t, _ := readTicks(w.pid)
	return t
}

// result is the burst gen as the readers saw it, with the observer's CPU
// time since ticks0 and, for secmon, its peak RSS; secmon is stopped, and
// its exit checked.
func (w *watching) result(gen workloadResult, ticks0 uint64) (burstResult, error) {
	res := burstResult{gen: gen}
	if w.pid != 0 {
		if t, err := readTicks(w.pid); err == nil {
			res.ticks = t - ticks0
		}
	}
	for _, rd := range w.readers {
		res.readers = append(res.readers, rd.t)
	}
	if w.d != nil {
		if m, err := readMemory(w.d.pid()); err == nil {
			res.rss = m.HWM
		}
		if err := w.d.stop(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// syncFS flushes the filesystem p is on (syncfs(2)).
func syncFS(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("cannot sync the filesystem of %s: %w", p, err)
	}
	return nil
}

// waitWatches reads inotifywait's stderr until it says its watches are in
// place, then drains the rest in the background.
func waitWatches(ctx context.Context, stderr *os.File, timeout time.Duration) error {
	ready := make(chan error, 1)
	var tail bytes.Buffer
	go func() {
		defer stderr.Close()
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if !sent {
				tail.WriteString(sc.Text() + "\n")
			}
			if !sent && strings.Contains(sc.Text(), "Watches established") {
				ready <- nil
				sent = true
			}
		}
		if !sent {
			ready <- fmt.Errorf("inotifywait ended before its watches were established: %s", lastLines(tail.String(), 3))
		}
	}()
	select {
	case err := <-ready:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("inotifywait did not establish its watches within %v", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runWorkload runs the generator program to completion.
func (b *bench) runWorkload(ctx context.Context, tree string, files, nested int, write bool) (workloadResult, error) {
	var res workloadResult
	var out bytes.Buffer
	errs := newTailBuffer(4 << 10)
	p, err := b.r.start(ctx, "workload", procSpec{name: b.r.binPath("workload"), args: []string{
		"-dir", tree, "-files", strconv.Itoa(files), "-nested", strconv.Itoa(nested), "-write=" + strconv.FormatBool(write),
	}, stdout: &out, stderr: errs})
	if err != nil {
		return res, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop()
		return res, ctx.Err()
	}
	if err := p.exitErr(); err != nil {
		return res, fmt.Errorf("the workload failed (%v): %s", err, errs.String())
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("cannot read the workload's result %q: %w", out.String(), err)
	}
	return res, nil
}
