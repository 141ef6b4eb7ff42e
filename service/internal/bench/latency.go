package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
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
	at    []int64 // unix ns of each receipt
	seen  []bool
	count atomic.Int64
	warm  atomic.Bool
}

// latencyRun is one run's latencies, by client.
type latencyRun struct {
	clients []*latClient
	// stages splits the events every client saw at the moment the daemon
	// made the event, in ms: see latencyStages.
	stages [3][]float64
}

// latencyStages are the parts of an event's way, split at the time the
// daemon made it (its timestamp, which the Event signal carries to the
// microsecond; the JSON line's has milliseconds only).
var latencyStages = [3]string{
	"write → the daemon has made the event (kernel, fsnotify's reader goroutine, the watcher)",
	"event made → JSON line read by the socket client (hub, client goroutine, socket, the bench's reader)",
	"event made → Event signal read by the bus client (hub, D-Bus sink, dbus-daemon, the bench's godbus)",
}

// split fills r.stages from the run's writes.
func (r *latencyRun) split(w *latencyWrites) {
	sock, bus := r.clients[0], r.clients[1]
	ms := func(from, to int64) float64 { return float64(to-from) / 1e6 }
	for i := range w.n {
		made := w.made[i]
		if made == 0 || !sock.seen[i] || !bus.seen[i] {
			continue
		}
		r.stages[0] = append(r.stages[0], ms(w.sent[i].Load(), made))
		r.stages[1] = append(r.stages[1], ms(made, sock.at[i]))
		r.stages[2] = append(r.stages[2], ms(made, bus.at[i]))
	}
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
	var runs []*latencyRun
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
			msv, missing := r.clients[ci].latencies()
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
	return []section{s, stagesSection(runs)}
}

// stagesSection is where an event's time goes, in the same runs.
func stagesSection(runs []*latencyRun) section {
	s := section{
		title: "Latency: where the time goes",
		how: "The same runs, each event that reached both secmon clients split at the time the daemon made it " +
			"(the watcher's clock reading when it reports the change; the Event signal carries it to the microsecond). " +
			"The first part is the same for both clients. The median of the runs' percentiles.",
		header: []string{"stage", "p50", "p90", "p99", "events"},
	}
	ms := func(x float64) string { return fmtNum(x, 3) + " ms" }
	for k, name := range latencyStages {
		var p50, p90, p99, n []float64
		for _, r := range runs {
			p50 = append(p50, Percentile(r.stages[k], 50))
			p90 = append(p90, Percentile(r.stages[k], 90))
			p99 = append(p99, Percentile(r.stages[k], 99))
			n = append(n, float64(len(r.stages[k])))
		}
		s.rows = append(s.rows, []string{name, medianCell(p50, ms), medianCell(p90, ms), medianCell(p99, ms),
			medianCell(n, func(x float64) string { return fmtNum(x, 0) })})
	}
	return s
}

// latencyRun starts the three receivers on a fresh tree, waits until each
// has seen a first event, makes the steady writes and matches what each
// receiver got to them.
func (b *bench) latencyRun(ctx context.Context, run int) (*latencyRun, error) {
	n := b.opts.latencyEvents
	res := newLatencyRun(n)
	tree, cleanup := b.treeDir(b.r.dir, "latency-"+strconv.Itoa(run))
	defer cleanup()
	dir := filepath.Join(tree, "lat")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	src, err := b.startLatencySources(ctx, tree, n)
	if err != nil {
		return res, err
	}
	defer src.close()

	w := newLatencyWrites(dir, n)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	src.read(lctx, &wg, w, res)
	err = warmUp(ctx, w.warm, res.warm)
	if err == nil {
		err = w.write(ctx, b.opts.latencyRate)
	}
	if err != nil {
		cancel()
		wg.Wait()
		return res, err
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.split(w)
	return res, src.d.stop()
}

func newLatencyRun(n int) *latencyRun {
	res := &latencyRun{}
	for _, c := range latencyClients {
		res.clients = append(res.clients, &latClient{name: c.name, lat: make([]time.Duration, n), at: make([]int64, n), seen: make([]bool, n)})
	}
	return res
}

// warm is whether every client has seen the warm-up file.
func (r *latencyRun) warm() bool {
	for _, c := range r.clients {
		if !c.warm.Load() {
			return false
		}
	}
	return true
}

// latencies are c's latencies of the writes it saw, in milliseconds, in
// the writes' order, and the number of writes it did not see.
func (c *latClient) latencies() (ms []float64, missing int) {
	var ds []time.Duration
	for i, ok := range c.seen {
		if ok {
			ds = append(ds, c.lat[i])
		} else {
			missing++
		}
	}
	return durationsMs(ds), missing
}

// latencyWrites are a run's writes: file i is prefix+i, its open came at
// sent[i].
type latencyWrites struct {
	n      int
	prefix string
	warm   string
	sent   []atomic.Int64 // unix ns, just before the open
	// made is when the daemon made each event (unix ns, to the
	// microsecond: the Event signal's timestamp), 0 until its signal came.
	made []int64
	end  atomic.Int64 // unix ns after the last write; 0 before
}

func newLatencyWrites(dir string, n int) *latencyWrites {
	return &latencyWrites{n: n, prefix: dir + "/f", warm: filepath.Join(dir, "warm"), sent: make([]atomic.Int64, n), made: make([]int64, n)}
}

// latencyIndex is which of n writes path names: prefix followed by its
// number.
func latencyIndex(path, prefix string, n int) (int, bool) {
	s, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// receive records path's arrival at c at now (unix ns); true once c has
// seen every write.
func (w *latencyWrites) receive(c *latClient, path string, now int64) bool {
	if path == w.warm {
		c.warm.Store(true)
		return false
	}
	i, ok := latencyIndex(path, w.prefix, w.n)
	if !ok || c.seen[i] {
		return false
	}
	c.seen[i] = true
	c.at[i] = now
	c.lat[i] = time.Duration(now - w.sent[i].Load())
	return c.count.Add(1) == int64(w.n)
}

// write creates the files, rate a second, each at its time on a steady
// schedule (not rate after the one before), and writes a byte into each.
func (w *latencyWrites) write(ctx context.Context, rate int) error {
	defer func() { w.end.Store(time.Now().UnixNano()) }()
	period := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range w.n {
		if err := ctx.Err(); err != nil {
			return err
		}
		if wait := time.Until(start.Add(time.Duration(i) * period)); wait > 0 {
			time.Sleep(wait)
		}
		p := w.prefix + strconv.Itoa(i)
		w.sent[i].Store(time.Now().UnixNano())
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("cannot write %s: %w", p, err)
		}
		f.Write([]byte("x"))
		f.Close()
	}
	return nil
}

// latencyDrain: a client has had all it will get 5 s after the last write
// once it has heard nothing for 2 s.
var latencyDrain = drain{settle: 5 * time.Second, silence: 2 * time.Second}

// latencySources feed the clients: the daemon's socket, the Event signals
// on its bus and, when it is installed, inotifywait's output.
type latencySources struct {
	d    *daemonProc
	sock *net.UnixConn
	bus  *dbus.Conn
	sigs chan *dbus.Signal
	iw   *os.File // nil without inotifywait
	iwp  *proc
}

// startLatencySources starts a daemon watching tree with severity High
// (never folded on the bus), connects to its socket, subscribes to its
// Event signal and starts inotifywait on tree. The caller closes them.
func (b *bench) startLatencySources(ctx context.Context, tree string, n int) (src *latencySources, err error) {
	s := &latencySources{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.d, err = b.r.startDaemon(ctx, daemonOpts{tree: tree, severity: "High", bus: true}); err != nil {
		return nil, err
	}
	if s.d.bus == nil {
		return nil, errors.New("dbus-daemon is not installed (apt-get install dbus)")
	}
	if s.sock, err = s.d.dial(); err != nil {
		return nil, err
	}
	if s.bus, err = s.d.bus.conn(); err != nil {
		return nil, err
	}
	if err := s.bus.AddMatchSignal(dbus.WithMatchInterface(secmondbus.Interface), dbus.WithMatchMember(secmondbus.SignalEvent)); err != nil {
		return nil, fmt.Errorf("cannot subscribe to Event: %w", err)
	}
	s.sigs = make(chan *dbus.Signal, n+1024)
	s.bus.Signal(s.sigs)
	if _, err := exec.LookPath("inotifywait"); err == nil {
		if s.iw, s.iwp, err = b.r.startInotifywait(ctx, tree, "create", "%w%f", 15*time.Second); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *latencySources) close() {
	if s.iw != nil {
		s.iw.Close()
		s.iwp.stop()
	}
	if s.bus != nil {
		s.bus.Close()
	}
	if s.sock != nil {
		s.sock.Close()
	}
	if s.d != nil {
		s.d.stop()
	}
}

// read starts a goroutine per client, each matching what it receives to
// w's writes until it has seen them all, has drained, or ctx is done.
func (s *latencySources) read(ctx context.Context, wg *sync.WaitGroup, w *latencyWrites, res *latencyRun) {
	sock, bus, floor := res.clients[0], res.clients[1], res.clients[2]
	drained := latencyDrain.idle(ctx, &w.end)
	finished := func(c *latClient) func(time.Time) bool {
		return func(last time.Time) bool { return c.count.Load() == int64(w.n) || drained(last) }
	}
	wg.Go(func() {
		readLines(s.sock, func(line []byte, now int64) bool {
			li, ok := parseLine(line)
			return ok && li.Type == "FileCreate" && w.receive(sock, li.Path, now)
		}, finished(sock))
	})
	wg.Go(func() {
		readSignals(s.sigs, func(sig *dbus.Signal, now int64) bool {
			if sig.Name != secmondbus.SignalEventMember {
				return false
			}
			ev, err := secmondbus.DecodeEvent(sig.Body)
			if err != nil || ev.Type != "FileCreate" {
				return false
			}
			if i, ok := latencyIndex(ev.Path, w.prefix, w.n); ok {
				w.made[i] = ev.TimestampUsec * 1000
			}
			return w.receive(bus, ev.Path, now)
		}, finished(bus))
	})
	if s.iw == nil {
		floor.name += " (inotifywait not installed)"
		floor.warm.Store(true)
		return
	}
	wg.Go(func() {
		readLines(s.iw, func(line []byte, now int64) bool {
			return w.receive(floor, strings.TrimSuffix(string(line), "\n"), now)
		}, finished(floor))
	})
}

// readSignals is readLines for a bus connection: it hands each signal to
// handle with the time it came (unix ns) until handle returns true, or
// until idle, asked every quarter second with the time of the last signal,
// returns true.
func readSignals(sigs <-chan *dbus.Signal, handle func(sig *dbus.Signal, now int64) bool, idle func(last time.Time) bool) {
	last := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case sig := <-sigs:
			now := time.Now()
			last = now
			if handle(sig, now.UnixNano()) {
				return
			}
		case <-tick.C:
			if idle(last) {
				return
			}
		}
	}
}
