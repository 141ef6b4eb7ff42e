// Package bench is secmon-bench: it measures each promise secmon makes about
// its cost (idle memory, CPU and system calls; latency to a socket and a bus
// client; throughput, loss and overhead under a burst against inotifywait;
// memory during an event storm; start-up over a large tree; the hot paths'
// go test benchmarks), side by side with a floor in the same run, and writes
// the tables to BENCHMARKS.md with the machine they were measured on.
//
// Everything runs for real: the daemon is built from the checkout and
// started on a configuration the bench writes, with a NOTIFY_SOCKET, a
// private dbus-daemon and a scratch tree of its own; files are made by a
// separate generator program (./workload); the idle floor is a minimal Go
// program (./floor). Every process is started in its own process group with
// a parent-death signal and is stopped when its figure ends, on error and on
// Ctrl-C; the scratch directory is removed. A figure that fails is reported
// as failed with its reason, and the others still run.
//
// It is not part of go test ./...: `make bench` runs it.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// options are the command line.
type options struct {
	out           string
	runs          int
	idle          time.Duration
	settle        time.Duration
	latencyEvents int
	latencyRate   int
	burstFiles    int
	nested        int
	stormEvents   int
	scaleDirs     int
	benchCount    int
	only          string
	scratch       string
	tmpfs         string
	quick         bool
}

// figures are run in this order; -only picks some by name.
var figures = []struct {
	name string
	run  func(*bench, context.Context) []section
}{
	{"idle", (*bench).idleFigure},
	{"latency", (*bench).latencyFigure},
	{"burst", (*bench).burstFigure},
	{"storm", (*bench).stormFigure},
	{"scale", (*bench).scaleFigure},
	{"gobench", (*bench).goBenchFigure},
}

func parseFlags(args []string, stderr io.Writer) (*options, []string, error) {
	var o options
	fs := flag.NewFlagSet("secmon-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: secmon-bench [flags]\n\n"+
			"Builds secmon-daemon from this checkout, measures it against its floor and\n"+
			"writes the tables to BENCHMARKS.md (see the README, \"Performance\").\n"+
			"Needs: go, strace, inotify-tools (inotifywait), dbus (dbus-daemon);\n"+
			"root for the scale figure's inotify limit and to keep events out of a journal.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.out, "o", "BENCHMARKS.md", "write the report here (relative to the checkout's root; - for none)")
	fs.IntVar(&o.runs, "runs", 3, "runs per figure; each figure's value is the median")
	fs.DurationVar(&o.idle, "idle", 60*time.Second, "idle window for CPU ticks and system calls")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "time after READY before the idle window (start-up work ends)")
	fs.IntVar(&o.latencyEvents, "latency-events", 10000, "events per latency run")
	fs.IntVar(&o.latencyRate, "latency-rate", 1000, "events per second in a latency run")
	fs.IntVar(&o.burstFiles, "burst-files", 33334, "files created, written and deleted by a burst (3 operations each)")
	fs.IntVar(&o.nested, "nested", 30, "nested directory chains (mkdir -p n/a/b/c/d, then a file) in a burst")
	fs.IntVar(&o.stormEvents, "storm-events", 1000000, "events in the storm (a file created and deleted: 2)")
	fs.IntVar(&o.scaleDirs, "scale-dirs", 100000, "directories in the scale figure's tree")
	fs.IntVar(&o.benchCount, "bench-count", 6, "go test -count for the hot-path benchmarks")
	fs.StringVar(&o.only, "only", "", "comma-separated figures to run: idle, latency, burst, storm, scale, gobench (default all)")
	fs.StringVar(&o.scratch, "dir", os.TempDir(), "where the scratch directory is made (its filesystem is part of the result)")
	fs.StringVar(&o.tmpfs, "tmpfs", "/dev/shm", "a tmpfs where the burst runs a second time and the storm runs (the generator is much faster there); empty: the scratch directory only")
	fs.BoolVar(&o.quick, "quick", false, "a short run to try it out: 1 run, 10 s idle, smaller bursts (flags given explicitly win)")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"runs":           func() { o.runs = 1 },
			"idle":           func() { o.idle = 10 * time.Second },
			"settle":         func() { o.settle = 2 * time.Second },
			"latency-events": func() { o.latencyEvents = 2000 },
			"burst-files":    func() { o.burstFiles = 10000 },
			"storm-events":   func() { o.stormEvents = 100000 },
			"scale-dirs":     func() { o.scaleDirs = 10000 },
			"bench-count":    func() { o.benchCount = 3 },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	if o.runs < 1 || o.latencyEvents < 1 || o.latencyRate < 1 || o.burstFiles < 1 || o.stormEvents < 2 || o.scaleDirs < 1 || o.benchCount < 1 {
		return nil, nil, errors.New("counts must be positive")
	}
	var names []string
	for _, f := range figures {
		names = append(names, f.name)
	}
	var chosen []string
	if o.only == "" {
		chosen = names
	} else {
		for _, n := range strings.Split(o.only, ",") {
			n = strings.TrimSpace(n)
			ok := false
			for _, f := range names {
				ok = ok || f == n
			}
			if !ok {
				return nil, nil, fmt.Errorf("-only: unknown figure %q (have %s)", n, strings.Join(names, ", "))
			}
			chosen = append(chosen, n)
		}
	}
	return &o, chosen, nil
}

// bench is one run of the suite.
type bench struct {
	opts *options
	r    *runner
	root string // the checkout
	fast string // scratch directory on -tmpfs; "" without one
}

// fastDir is where the storm runs: on tmpfs if there is one.
func (b *bench) fastDir() string {
	if b.fast != "" {
		return b.fast
	}
	return b.r.dir
}

// section is one table of the report.
type section struct {
	title  string
	how    string // how it was measured, one paragraph
	header []string
	rows   [][]string
	notes  []string
	err    error
	goals  []goal
	load   string // load average when the figure started
}

// goal is one line of the summary: a promise, what was reached, whether it
// was met.
type goal struct {
	what, target, secmon, floor, met string
}

func failed(title string, err error) section {
	return section{title: title, err: err}
}

// readerThreads lets each of a burst's 10 socket clients run on a thread
// of its own, as 10 client processes would. With GOMAXPROCS at the 2 CPUs
// here the bench's readers together got two threads' share of the CPU
// against the daemon and the generator, and fell behind the daemon in 2 of
// 3 runs (its queue for them filled: 34,801 and 52,729 events dropped);
// 10 separate reader processes, and these readers with 12 threads, lost
// nothing in 3 runs each.
const readerThreads = 12

// Run is secmon-bench's main.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, chosen, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.NumCPU(), readerThreads)))
	scratch, err := os.MkdirTemp(o.scratch, "secmon-bench-")
	if err != nil {
		return fmt.Errorf("cannot make the scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	os.Chmod(scratch, 0o755)
	r := &runner{dir: scratch, bin: filepath.Join(scratch, "bin"), log: stderr, procs: map[*proc]struct{}{}}
	defer r.stopAll()
	b := &bench{opts: o, r: r, root: root}
	if o.tmpfs != "" {
		if fsType(o.tmpfs) != "tmpfs" {
			return fmt.Errorf("-tmpfs %s is not a tmpfs (give -tmpfs= to do without)", o.tmpfs)
		}
		if b.fast, err = os.MkdirTemp(o.tmpfs, "secmon-bench-"); err != nil {
			return fmt.Errorf("cannot make the scratch directory on tmpfs: %w", err)
		}
		defer os.RemoveAll(b.fast)
		os.Chmod(b.fast, 0o755)
	}
	r.logDir = b.fastDir()

	began := time.Now()
	mach := describeMachine(ctx, scratch)
	for _, tool := range []struct{ name, pkg, what string }{
		{"strace", "strace", "the idle figure counts no system calls"},
		{"inotifywait", "inotify-tools", "the burst, latency floor and scale figures fail"},
		{"dbus-daemon", "dbus", "the daemons run without D-Bus and the latency figure fails"},
	} {
		if _, err := exec.LookPath(tool.name); err != nil {
			r.logf("%s is not installed (apt-get install %s): %s", tool.name, tool.pkg, tool.what)
			r.noBus = r.noBus || tool.name == "dbus-daemon"
		}
	}
	if os.Geteuid() != 0 {
		r.logf("not root: the camera and microphone monitors run degraded, and the scale figure cannot raise the inotify watch limit if it must")
	}
	r.logf("building secmon-daemon, the floor and the workload generator")
	if err := r.build(ctx, root); err != nil {
		return err
	}
	var sections []section
	for _, f := range figures {
		if !slices.Contains(chosen, f.name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		r.logf("figure %s", f.name)
		t0, load := time.Now(), loadAvg()
		secs := b.safely(ctx, f.name, f.run)
		for i := range secs {
			secs[i].load = load
		}
		r.stopAll() // whatever a failed figure left behind
		for _, s := range secs {
			if s.err != nil {
				r.logf("  %s: failed: %v", s.title, s.err)
			}
		}
		r.logf("  %s took %v", f.name, time.Since(t0).Round(time.Second))
		sections = append(sections, secs...)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted; no report written: %w", err)
	}
	mach.loadEnd = loadAvg()
	mach.took = time.Since(began)
	report := render(b.command(args), mach, sections)
	fmt.Fprint(stdout, report)
	if o.out == "-" {
		return nil
	}
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
		return fmt.Errorf("cannot write the report: %w", err)
	}
	r.logf("wrote %s", out)
	return nil
}

// safely runs one figure; a panic in it fails that figure only.
func (b *bench) safely(ctx context.Context, name string, run func(*bench, context.Context) []section) (secs []section) {
	defer func() {
		if p := recover(); p != nil {
			secs = []section{failed(name, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))}
		}
	}()
	return run(b, ctx)
}

// command is how to reproduce this report.
func (b *bench) command(args []string) string {
	c := "go run ./service/cmd/secmon-bench"
	for _, a := range args {
		c += " " + a
	}
	return c
}

// treeDir names a watched tree, base/name/tree, and returns how to remove
// it. The daemon also watches a root's parent (to see the root itself
// replaced), so the parent holds nothing else: the bench's own files
// (strace's output, sockets) must not wake the daemon it measures.
func (b *bench) treeDir(base, name string) (string, func()) {
	parent := filepath.Join(base, name)
	return filepath.Join(parent, "tree"), func() { os.RemoveAll(parent) }
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
