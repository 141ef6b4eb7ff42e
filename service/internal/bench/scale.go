package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

const maxWatchesPath = "/proc/sys/fs/inotify/max_user_watches"

// scaleFigure times start-up (start → READY=1) and measures RSS for one
// recursive watch over a tree of -scale-dirs directories, next to
// inotifywait -r setting up the same watches.
func (b *bench) scaleFigure(ctx context.Context) []section {
	const title = "Scale"
	o := b.opts
	tree, cleanup := b.treeDir(b.r.dir, "scale")
	defer cleanup()
	t0 := time.Now()
	if err := makeTree(tree, o.scaleDirs, 100); err != nil {
		return []section{failed(title, err)}
	}
	built := time.Since(t0)

	// Both watch every directory; the daemon also its parent. Leave
	// room for the other inotify users of this uid.
	need := o.scaleDirs + 65536
	restore, note, err := raiseWatchLimit(need)
	if err != nil {
		return []section{failed(title, err)}
	}
	defer restore()

	var secStart, secRSS, secHWM, iwStart, iwRSS []float64
	for run := range o.runs {
		if ctx.Err() != nil {
			return []section{failed(title, ctx.Err())}
		}
		b.r.logf("  run %d", run+1)
		d, err := b.r.startDaemon(ctx, daemonOpts{tree: tree, bus: true, readyTimeout: 10 * time.Minute})
		if err != nil {
			return []section{failed(title, err)}
		}
		m, err := readMemory(d.pid())
		stopErr := d.stop()
		if err != nil {
			return []section{failed(title, err)}
		}
		if stopErr != nil {
			return []section{failed(title, stopErr)}
		}
		secStart = append(secStart, d.startup.Seconds())
		secRSS = append(secRSS, float64(m.RSS))
		secHWM = append(secHWM, float64(m.HWM))

		start, rss, err := b.inotifywaitStartup(ctx, tree)
		if err != nil {
			return []section{failed(title, err)}
		}
		iwStart = append(iwStart, start.Seconds())
		iwRSS = append(iwRSS, float64(rss))
	}
	sec := func(x float64) string { return fmtNum(x, 2) + " s" }
	s := section{
		title: title,
		how: fmt.Sprintf("One recursive watch over a tree of %s directories (%s; made in %v): secmon-daemon from "+
			"start to READY=1 (its watches are all in place then), and RSS right after; `inotifywait -m -r` from start "+
			"to \"Watches established.\" and its RSS then. Warm dentry cache (the tree was just made). %d runs; medians.",
			fmtNum(float64(o.scaleDirs), 0), fsType(b.r.dir), built.Round(100*time.Millisecond), o.runs),
		header: []string{"process", "start-up", "RSS when ready", "peak RSS (VmHWM)"},
		rows: [][]string{
			{"secmon", medianCell(secStart, sec), medianCell(secRSS, fmtMB), medianCell(secHWM, fmtMB)},
			{"inotifywait -r", medianCell(iwStart, sec), medianCell(iwRSS, fmtMB), "–"},
		},
	}
	if note != "" {
		s.notes = append(s.notes, note)
	}
	s.goals = []goal{{"scale: start-up over " + fmtNum(float64(o.scaleDirs), 0) + " directories", "(no target)",
		sec(Median(secStart)) + ", " + fmtMB(Median(secRSS)), "inotifywait: " + sec(Median(iwStart)) + ", " + fmtMB(Median(iwRSS)), "–"}}
	return []section{s}
}

// inotifywaitStartup times inotifywait -m -r over tree until it says its
// watches are established, and reads its RSS then.
func (b *bench) inotifywaitStartup(ctx context.Context, tree string) (time.Duration, uint64, error) {
	er, ew, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	began := time.Now()
	p, err := b.r.start(ctx, "inotifywait", procSpec{name: "inotifywait", args: []string{"-m", "-r",
		"-e", "create,modify,attrib,delete,delete_self,move,move_self", tree}, stderr: ew})
	ew.Close()
	if err != nil {
		er.Close()
		return 0, 0, err
	}
	defer p.stop()
	if err := waitWatches(ctx, er, 10*time.Minute); err != nil {
		return 0, 0, err
	}
	took := time.Since(began)
	m, err := readMemory(p.pid())
	if err != nil {
		return 0, 0, err
	}
	return took, m.RSS, nil
}

// raiseWatchLimit makes sure fs.inotify.max_user_watches is at least need,
// raising it if it is lower (root only) and returning how to put it back.
func raiseWatchLimit(need int) (restore func(), note string, err error) {
	b, err := os.ReadFile(maxWatchesPath)
	if err != nil {
		return func() {}, "", fmt.Errorf("cannot read the inotify watch limit: %w", err)
	}
	old := strings.TrimSpace(string(b))
	cur, err := strconv.Atoi(old)
	if err != nil {
		return func() {}, "", fmt.Errorf("cannot parse %s: %q", maxWatchesPath, old)
	}
	if cur >= need {
		return func() {}, fmt.Sprintf("fs.inotify.max_user_watches is %s: enough, left alone.", fmtNum(float64(cur), 0)), nil
	}
	if os.Geteuid() != 0 {
		return func() {}, "", fmt.Errorf("skipped: fs.inotify.max_user_watches is %d, under the %d needed, and raising it takes root", cur, need)
	}
	if err := os.WriteFile(maxWatchesPath, []byte(strconv.Itoa(need)), 0o644); err != nil {
		return func() {}, "", fmt.Errorf("cannot raise fs.inotify.max_user_watches to %d: %w", need, err)
	}
	return func() { os.WriteFile(maxWatchesPath, []byte(old), 0o644) },
		fmt.Sprintf("fs.inotify.max_user_watches raised from %s to %s for this figure, then restored.", fmtNum(float64(cur), 0), fmtNum(float64(need), 0)), nil
}
