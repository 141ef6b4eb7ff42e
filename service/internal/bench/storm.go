package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stormResult is one storm.
type stormResult struct {
	gen        workloadResult
	hwm        uint64 // VmHWM at the end
	reader     *tally
	stuckFiles int    // flat-file events the stuck client got once it read
	stuckDrop  uint64 // its EventsDropped total
	stuckNotes int    // its EventsDropped lines
}

// stormFigure sends -storm-events filesystem events (files created and
// deleted as fast as the generator can) past a daemon with one client that
// reads everything and one that is connected but does not read until the
// storm is over.
func (b *bench) stormFigure(ctx context.Context) []section {
	const title = "Storm memory"
	o := b.opts
	files := o.stormEvents / 2
	var rs []stormResult
	var errs []string
	for run := range o.runs {
		r, err := b.stormRun(ctx, files, run)
		if err != nil {
			if ctx.Err() != nil {
				return []section{failed(title, err)}
			}
			errs = append(errs, fmt.Sprintf("run %d: %v", run+1, err))
			continue
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return []section{failed(title, fmt.Errorf("%v", errs))}
	}
	s := section{
		title: title,
		how: fmt.Sprintf("%s files created and deleted at once by the generator, as fast as it can (%s events), in a "+
			"recursively watched tree on %s, with two socket clients: one reads everything, one is connected and reads nothing "+
			"until the storm is over, then reads what it is given. Peak RSS is the daemon's VmHWM after the storm. "+
			"%d runs; medians.", fmtNum(float64(files), 0), fmtNum(float64(2*files), 0), fsType(b.fastDir()), len(rs)),
		header: []string{"peak RSS (VmHWM)", "storm took", "reader: events", "reader: missed", "reader: dropped for it", "kernel queue overflows", "stuck client: events, then dropped (notices)"},
	}
	for _, e := range errs {
		s.notes = append(s.notes, "failed: "+e)
	}
	var hwm, took, rev, rmiss, rdrop, kern []float64
	var stuck []string
	gotCount := true
	for _, r := range rs {
		hwm = append(hwm, float64(r.hwm))
		took = append(took, r.gen.duration().Seconds())
		rev = append(rev, float64(r.reader.events))
		c, d, _, _ := r.reader.missed()
		rmiss = append(rmiss, float64(c+d))
		rdrop = append(rdrop, float64(r.reader.dropped))
		kern = append(kern, float64(r.reader.kernel))
		stuck = append(stuck, fmt.Sprintf("%s, then %s (%d)", fmtNum(float64(r.stuckFiles), 0), fmtNum(float64(r.stuckDrop), 0), r.stuckNotes))
		gotCount = gotCount && r.stuckDrop > 0
	}
	n0 := func(x float64) string { return fmtNum(x, 0) }
	s.rows = [][]string{{medianCell(hwm, fmtMB), medianCell(took, func(x float64) string { return fmtNum(x, 2) + " s" }),
		medianCell(rev, n0), medianCell(rmiss, n0), medianCell(rdrop, n0), medianCell(kern, n0), strings.Join(stuck, "; ")}}
	s.notes = append(s.notes, "The stuck client's events and drops add up to what the reader got when nothing is lost "+
		"elsewhere; its drops are announced with an `EventsDropped` line once it reads again.")
	s.goals = []goal{
		{"storm peak RSS", "≤ 32 MB", fmtMB(Median(hwm)), "–", met(Median(hwm) <= 32<<20)},
		{"storm: stuck client told its drop count", "yes", yesNo(gotCount), "–", met(gotCount)},
		{"storm: the reader loses nothing", "0", fmtNum(Median(rmiss), 0) + " missed, " + fmtNum(Median(rdrop), 0) + " dropped, " + fmtNum(Median(kern), 0) + " overflows", "–",
			met(Median(rmiss) == 0 && Median(rdrop) == 0 && Median(kern) == 0)},
	}
	return []section{s}
}

func (b *bench) stormRun(ctx context.Context, files, run int) (stormResult, error) {
	var res stormResult
	tree, cleanup := b.treeDir(b.fastDir(), "storm-"+strconv.Itoa(run))
	defer cleanup()
	if err := makeBurstDirs(tree); err != nil {
		return res, err
	}
	layout := Layout{Root: tree}
	d, err := b.r.startDaemon(ctx, daemonOpts{tree: tree, bus: true})
	if err != nil {
		return res, err
	}
	defer d.stop()
	stuck, err := d.dial()
	if err != nil {
		return res, err
	}
	defer stuck.Close()
	conn, err := d.dial()
	if err != nil {
		return res, err
	}
	defer conn.Close()

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var genEnd atomic.Int64
	rd := newBurstReader(layout, files, 0)
	res.reader = rd.t
	var wg sync.WaitGroup
	wg.Go(func() { readLines(conn, rd.secmonLine, burstDrain.idle(lctx, &genEnd)) })
	if err := warmUp(ctx, rd.warm, rd.warmed.Load); err != nil {
		cancel()
		wg.Wait()
		return res, err
	}
	res.gen, err = b.runWorkload(ctx, tree, files, 0, false)
	if err != nil {
		cancel()
		wg.Wait()
		return res, err
	}
	genEnd.Store(res.gen.EndNS)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	m, err := readMemory(d.pid())
	if err != nil {
		return res, err
	}
	res.hwm = m.HWM

	// Now the stuck client reads: its socket buffer, its queue, then the
	// notice of what it lost.
	quiet := func(last time.Time) bool { return ctx.Err() != nil || time.Since(last) > 2*time.Second }
	readLines(stuck, func(line []byte, now int64) bool {
		li, ok := parseLine(line)
		if !ok {
			return false
		}
		if li.Type == "EventsDropped" && li.Monitor == "" {
			res.stuckDrop += li.Dropped
			res.stuckNotes++
		}
		kind, _, _ := layout.Classify(li.Path)
		if kind == flatFile {
			res.stuckFiles++
		}
		return false
	}, quiet)
	if err := d.stop(); err != nil {
		return res, err
	}
	return res, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
