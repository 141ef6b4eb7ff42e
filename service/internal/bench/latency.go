package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"

	secmondbus "github.com/pantheros/secmon/dbus"
)

// latClient is one receiver in a latency run: it matches what it receives
// to the write by path.
type latClient struct {
	name  string
	lat   []time.Duration
	seen  []bool
	count atomic.Int64
	warm  atomic.Bool
}

// latencyRun is one run's latencies, by client.
type latencyRun struct {
	clients []*latClient
}

// latencyClients are the receivers, in the table's order: the goals apply
// to the first two, the third is the floor.
var latencyClients = []struct {
	name   string
	target float64 // ms; 0: no goal
	// floorRatio, if set, is a second goal: p99 at most this many times
	// the floor's, measured in the same run.
	floorRatio float64
}{
	{"socket (JSON line)", 1, 1.2},
	{"D-Bus (Event signal)", 2, 0},
	{"floor: inotifywait → pipe", 0, 0},
}

// latencyFigure writes files at a steady rate into a watched directory and
// times each write to the JSON line at a socket client, to the Event
// signal at a bus client and, as the floor, to inotifywait's line on a
// pipe, all read in this process.
func (b *bench) latencyFigure(ctx context.Context) []section {
	const title = "Latency"
	o := b.opts
	var runs []latencyRun
	for i := range o.runs {
		r, err := b.latencyRun(ctx, i)
		if err != nil {
			return []section{failed(title, err)}
		}
		runs = append(runs, r)
	}
	s := section{
		title: title,
		how: fmt.Sprintf("%s files created at a steady %s a second in a watched directory by a goroutine of the bench; "+
			"the time from just before the open(O_CREAT) to the receipt of the event's JSON line by a socket client, "+
			"of its `Event` signal by a client of the daemon's private session bus and, as the floor, of "+
			"`inotifywait -m -r`'s line on a pipe (a C program relaying the same inotify event one process away), all "+
			"three watching at once and read by the bench's process, matched by path. The watch has severity High: Low "+
			"and Medium events above 100 a second are folded into `EventsCoalesced` on the bus by design, so this is "+
			"the rate at which every event gets its own signal. %d runs; the median of the runs' percentiles.",
			fmtNum(float64(o.latencyEvents), 0), fmtNum(float64(o.latencyRate), 0), o.runs),
		header: []string{"client", "p50", "p99", "max", "events missing"},
	}
	ms := func(x float64) string { return fmtNum(x, 3) + " ms" }
	floorP99, floorMs := "–", math.NaN()
	type ratioGoal struct {
		goal       int
		ratio, p99 float64
		missing    float64
	}
	var ratios []ratioGoal
	for ci, c := range latencyClients {
		var p50, p99, mx, miss []float64
		for _, r := range runs {
			lc := r.clients[ci]
			var ds []time.Duration
			missing := 0
			for i, ok := range lc.seen {
				if ok {
					ds = append(ds, lc.lat[i])
				} else {
					missing++
				}
			}
			msv := durationsMs(ds)
			p50 = append(p50, Percentile(msv, 50))
			p99 = append(p99, Percentile(msv, 99))
			mx = append(mx, Percentile(msv, 100))
			miss = append(miss, float64(missing))
		}
		s.rows = append(s.rows, []string{c.name, medianCell(p50, ms), medianCell(p99, ms), medianCell(mx, ms),
			medianCell(miss, func(x float64) string { return fmtNum(x, 0) })})
		if c.target == 0 {
			floorP99, floorMs = "inotifywait: "+ms(Median(p99)), Median(p99)
			continue
		}
		p := Median(p99)
		s.goals = append(s.goals, goal{"latency p99, " + c.name, "≤ " + fmtNum(c.target, 0) + " ms", ms(p), "",
			met(p <= c.target && Median(miss) == 0)})
		if c.floorRatio > 0 {
			ratios = append(ratios, ratioGoal{len(s.goals), c.floorRatio, p, Median(miss)})
			s.goals = append(s.goals, goal{"latency p99, " + c.name + " / inotifywait", "≤ " + fmtNum(c.floorRatio, 1) + "×", ms(p), "", "–"})
		}
	}
	// The floor is the last client: the ratios are known once it is.
	for _, r := range ratios {
		g := &s.goals[r.goal]
		g.secmon += " (" + fmtNum(r.p99/floorMs, 2) + "×)"
		g.met = met(r.p99 <= r.ratio*floorMs && r.missing == 0)
	}
	for i := range s.goals {
		s.goals[i].floor = floorP99
	}
	return []section{s}
}

func (b *bench) latencyRun(ctx context.Context, run int) (latencyRun, error) {
	o := b.opts
	n := o.latencyEvents
	res := latencyRun{}
	for _, c := range latencyClients {
		res.clients = append(res.clients, &latClient{name: c.name, lat: make([]time.Duration, n), seen: make([]bool, n)})
	}
	sock, bus, floor := res.clients[0], res.clients[1], res.clients[2]
	tree, cleanup := b.treeDir(b.r.dir, "latency-"+strconv.Itoa(run))
	defer cleanup()
	dir := filepath.Join(tree, "lat")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	d, err := b.r.startDaemon(ctx, daemonOpts{tree: tree, severity: "High", bus: true})
	if err != nil {
		return res, err
	}
	defer d.stop()
	if d.bus == nil {
		return res, errors.New("dbus-daemon is not installed (apt-get install dbus)")
	}

	conn, err := d.dial()
	if err != nil {
		return res, err
	}
	defer conn.Close()
	bc, err := d.bus.conn()
	if err != nil {
		return res, err
	}
	defer bc.Close()
	if err := bc.AddMatchSignal(dbus.WithMatchInterface(secmondbus.Interface), dbus.WithMatchMember(secmondbus.SignalEvent)); err != nil {
		return res, fmt.Errorf("cannot subscribe to Event: %w", err)
	}
	sigs := make(chan *dbus.Signal, n+1024)
	bc.Signal(sigs)

	var iw *os.File
	if _, err := exec.LookPath("inotifywait"); err == nil {
		pr, p, err := b.r.startInotifywait(ctx, tree, "create", "%w%f", 15*time.Second)
		if err != nil {
			return res, err
		}
		defer p.stop()
		defer pr.Close()
		iw = pr
	} else {
		floor.name += " (inotifywait not installed)"
	}

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base := time.Now()
	sent := make([]atomic.Int64, n) // ns since base, just before the write
	prefix := dir + "/f"
	warm := filepath.Join(dir, "warm")
	var writerDone atomic.Int64 // ns since base when the last file was written
	// receive records path's arrival at c (unix ns now).
	receive := func(c *latClient, path string, now int64) bool {
		if path == warm {
			c.warm.Store(true)
			return false
		}
		s, ok := strings.CutPrefix(path, prefix)
		if !ok {
			return false
		}
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 || i >= n || c.seen[i] {
			return false
		}
		c.seen[i] = true
		c.lat[i] = time.Duration(now-base.UnixNano()) - time.Duration(sent[i].Load())
		return c.count.Add(1) == int64(n)
	}
	finished := func(c *latClient) func(time.Time) bool {
		return func(last time.Time) bool {
			if lctx.Err() != nil || c.count.Load() == int64(n) {
				return true
			}
			end := writerDone.Load()
			return end != 0 && time.Since(base.Add(time.Duration(end))) > 5*time.Second && time.Since(last) > 2*time.Second
		}
	}

	var wg sync.WaitGroup
	wg.Go(func() {
		readLines(conn, func(line []byte, now int64) bool {
			li, ok := parseLine(line)
			return ok && li.Type == "FileCreate" && receive(sock, li.Path, now)
		}, finished(sock))
	})
	if iw != nil {
		wg.Go(func() {
			readLines(iw, func(line []byte, now int64) bool {
				return receive(floor, strings.TrimSuffix(string(line), "\n"), now)
			}, finished(floor))
		})
	} else {
		floor.warm.Store(true)
	}
	wg.Go(func() {
		idle := finished(bus)
		last := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case sig := <-sigs:
				now := time.Now()
				last = now
				if sig.Name != secmondbus.SignalEventMember {
					continue
				}
				ev, err := secmondbus.DecodeEvent(sig.Body)
				if err == nil && ev.Type == "FileCreate" && receive(bus, ev.Path, now.UnixNano()) {
					return
				}
			case <-tick.C:
				if idle(last) {
					return
				}
			}
		}
	})

	// Every client is subscribed once it has seen a first event.
	warmDeadline := time.Now().Add(15 * time.Second)
	for !sock.warm.Load() || !bus.warm.Load() || !floor.warm.Load() {
		if time.Now().After(warmDeadline) || ctx.Err() != nil {
			cancel()
			wg.Wait()
			return res, errors.New("the clients did not see a first event within 15s")
		}
		os.Remove(warm)
		if err := os.WriteFile(warm, nil, 0o644); err != nil {
			return res, err
		}
		sleep(ctx, 100*time.Millisecond)
	}

	period := time.Second / time.Duration(o.latencyRate)
	start := time.Now()
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		if wait := time.Until(start.Add(time.Duration(i) * period)); wait > 0 {
			time.Sleep(wait)
		}
		p := prefix + strconv.Itoa(i)
		sent[i].Store(int64(time.Since(base)))
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return res, fmt.Errorf("cannot write %s: %w", p, err)
		}
		f.Write([]byte("x"))
		f.Close()
	}
	writerDone.Store(int64(time.Since(base)))
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := d.stop(); err != nil {
		return res, err
	}
	return res, nil
}
