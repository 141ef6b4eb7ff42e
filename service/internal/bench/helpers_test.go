package bench

// Quick tests of the bench's pure helpers, which are unexported: hence a
// white-box test. The bench itself runs with make bench, never under go test.

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
)

func TestMedianAndPercentile(t *testing.T) {
	for _, c := range []struct {
		xs       []float64
		median   float64
		p50, p99 float64
	}{
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 3, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 2, 4},
	} {
		in := append([]float64(nil), c.xs...)
		if got := Median(c.xs); got != c.median {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.median)
		}
		if got := Percentile(c.xs, 50); got != c.p50 {
			t.Errorf("Percentile(%v, 50) = %v, want %v", c.xs, got, c.p50)
		}
		if got := Percentile(c.xs, 99); got != c.p99 {
			t.Errorf("Percentile(%v, 99) = %v, want %v", c.xs, got, c.p99)
		}
		if !reflect.DeepEqual(in, c.xs) {
			t.Errorf("the input was reordered: %v", c.xs)
		}
	}
	if !math.IsNaN(Median(nil)) || !math.IsNaN(Percentile(nil, 50)) {
		t.Error("no values must give NaN")
	}
	// Nearest rank over 1..1000: p99 is the 990th value, p100 the largest.
	var xs []float64
	for i := 1000; i >= 1; i-- {
		xs = append(xs, float64(i))
	}
	if got := Percentile(xs, 99); got != 990 {
		t.Errorf("p99 of 1..1000 = %v, want 990", got)
	}
	if got := Percentile(xs, 100); got != 1000 {
		t.Errorf("p100 of 1..1000 = %v, want 1000", got)
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		x    float64
		prec int
		want string
	}{
		{1234.5, 1, "1,234.5"},
		{1000000, 0, "1,000,000"},
		{0.1234, 3, "0.123"},
		{2, 2, "2"},
		{-12345.25, 2, "-12,345.25"},
		{math.NaN(), 1, "–"},
	} {
		if got := fmtNum(c.x, c.prec); got != c.want {
			t.Errorf("fmtNum(%v, %d) = %q, want %q", c.x, c.prec, got, c.want)
		}
	}
	if got := fmtMB(5 << 20); got != "5 MB" {
		t.Errorf("fmtMB(5 MiB) = %q", got)
	}
	if got := medianCell([]float64{3, 1, 2}, func(x float64) string { return fmtNum(x, 0) }); got != "2 (3, 1, 2)" {
		t.Errorf("medianCell = %q", got)
	}
	if got := fmtDur(60 * time.Second); got != "60 s" {
		t.Errorf("fmtDur(60s) = %q", got)
	}
}

func TestProcParsers(t *testing.T) {
	status := "Name:\tsecmon-daemon\nVmHWM:\t   12000 kB\nVmRSS:\t    8000 kB\nThreads:\t8\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t3\n"
	kv := parseKB(status)
	if kv["VmRSS"] != 8000<<10 || kv["VmHWM"] != 12000<<10 {
		t.Errorf("parseKB = %v", kv)
	}
	if _, ok := kv["Threads"]; ok {
		t.Error("parseKB took a line without kB")
	}
	if got := parseSwitches(strings.NewReader(status)); got != 123 {
		t.Errorf("parseSwitches = %d, want 123", got)
	}
	// A command name with spaces and parentheses; utime 7, stime 5.
	stat := "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 8 0 1234 100000 200"
	if got, err := parseStatTicks(stat); err != nil || got != 12 {
		t.Errorf("parseStatTicks = %d, %v; want 12", got, err)
	}
	if _, err := parseStatTicks("4242 (x) S 1"); err == nil {
		t.Error("a short stat line must be an error")
	}
}

// parseLine reads what the daemon really writes: event.Event's JSON.
func TestParseLine(t *testing.T) {
	enc := func(e event.Event) []byte {
		b, err := e.AppendJSONLine(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	now := time.Now()
	for _, c := range []struct {
		name string
		e    event.Event
		want lineInfo
	}{
		{"plain", event.Event{Seq: 7, Time: now, Type: event.FileCreate, Path: "/t/s1/f12", Severity: event.Medium,
			Description: `Created /t/s1/f12 ("path":"/evil")`, Metadata: map[string]string{"type": "x", "path": "/y"}},
			lineInfo{Type: "FileCreate", Path: "/t/s1/f12"}},
		{"escaped path", event.Event{Time: now, Type: event.FileDelete, Path: "/t/a\"b\\c\n", Severity: event.Medium},
			lineInfo{Type: "FileDelete", Path: "/t/a\"b\\c\n"}},
		{"client drops", event.Event{Time: now, Type: event.EventsDropped, Severity: event.High,
			Metadata: map[string]string{"dropped": "4096", "reason": "queue full"}},
			lineInfo{Type: "EventsDropped", Dropped: 4096}},
		{"kernel overflow", event.Event{Time: now, Type: event.EventsDropped, Severity: event.High,
			Metadata: map[string]string{"monitor": "filesystem"}},
			lineInfo{Type: "EventsDropped", Monitor: "filesystem"}},
	} {
		got, ok := parseLine(enc(c.e))
		if !ok || got != c.want {
			t.Errorf("%s: parseLine = %+v, %v; want %+v", c.name, got, ok, c.want)
		}
	}
	if _, ok := parseLine([]byte(`{"error":"bad request"}` + "\n")); ok {
		t.Error("a line that is no event must not parse")
	}
}

func TestLayoutClassify(t *testing.T) {
	l := Layout{Root: "/x/tree"}
	for _, c := range []struct {
		path         string
		kind         pathKind
		index, level int
	}{
		{"/x/tree/s3/f1234", flatFile, 1234, 0},
		{"/x/tree/n7", chainPath, 7, 0},
		{"/x/tree/n7/a/b", chainPath, 7, 2},
		{"/x/tree/n7/a/b/c/d/f", chainPath, 7, 5},
		{"/x/tree/DONE", sentinel, 0, 0},
		{"/x/tree/warm", otherPath, 0, 0},
		{"/x/tree/s3", otherPath, 0, 0},
		{"/x/tree/n7/a/x", otherPath, 0, 0},
		{"/x/tree2/s3/f1", otherPath, 0, 0},
		{"/x/tree/s3/f1/g", otherPath, 0, 0},
	} {
		k, i, lv := l.Classify(c.path)
		if k != c.kind || i != c.index || lv != c.level {
			t.Errorf("Classify(%s) = %v %d %d, want %v %d %d", c.path, k, i, lv, c.kind, c.index, c.level)
		}
	}
}

func TestTallyCountsWhatWasMissed(t *testing.T) {
	l := Layout{Root: "/r"}
	tl := newTally(l, 3, 2)
	evs, p, ok := parseInotifyLine("CREATE,ISDIR /r/n0/a b")
	if !ok || p != "/r/n0/a b" || inotifyOp(evs) != opCreate {
		t.Fatalf("parseInotifyLine = %v %q %v", evs, p, ok)
	}
	for _, e := range []struct {
		o op
		p string
	}{
		{opCreate, "/r/s0/f0"}, {opOther, "/r/s0/f0"}, {opDelete, "/r/s0/f0"},
		{opCreate, "/r/s1/f1"},
		{opCreate, "/r/n0"}, {opCreate, "/r/n0/a"}, {opCreate, "/r/n0/a/b"}, {opCreate, "/r/n0/a/b/c"},
		{opCreate, "/r/n0/a/b/c/d"}, {opCreate, "/r/n0/a/b/c/d/f"},
		{opCreate, "/r/n1"},
		{secmonOp("FileCreate"), "/r/DONE"},
	} {
		tl.add(e.o, e.p, 1)
	}
	c, d, nf, np := tl.missed()
	// f2 never created; f1 and f2 never deleted; chain 1 has only n1.
	if c != 1 || d != 2 || nf != 1 || np != 5 || !tl.done || tl.events != 12 {
		t.Errorf("missed = %d %d %d %d, done %v, events %d", c, d, nf, np, tl.done, tl.events)
	}
	if inotifyOp([]string{"DELETE_SELF"}) != opOther || inotifyOp([]string{"DELETE", "ISDIR"}) != opDelete {
		t.Error("inotifyOp must match whole event names")
	}
}

func TestParseGoBench(t *testing.T) {
	const out = `goos: linux
pkg: github.com/pantheros/secmon/service/internal/event
BenchmarkAppendJSONLine-2   	  249254	      4425 ns/op	  79.32 MB/s	     704 B/op	      11 allocs/op
BenchmarkAppendJSONLine-2   	  249254	      4000 ns/op	  79.32 MB/s	     704 B/op	      11 allocs/op
PASS
pkg: github.com/pantheros/secmon/service/internal/hub
BenchmarkPublishTenSubscribers-2   	  298681	      3521 ns/op	    1072 B/op	       0 allocs/op
ok  	github.com/pantheros/secmon/service/internal/hub	1.064s
`
	got := parseGoBench(out)
	if len(got) != 3 {
		t.Fatalf("parsed %d lines, want 3: %+v", len(got), got)
	}
	if got[0].Name != "event.BenchmarkAppendJSONLine" || got[0].Values["ns/op"] != 4425 || got[0].Values["allocs/op"] != 11 || got[0].Values["MB/s"] != 79.32 {
		t.Errorf("first = %+v", got[0])
	}
	if got[2].Name != "hub.BenchmarkPublishTenSubscribers" || got[2].Values["B/op"] != 1072 {
		t.Errorf("third = %+v", got[2])
	}
}

func TestMarkdownCells(t *testing.T) {
	got := table([]string{"a", "b"}, [][]string{{"x|y", "two\nlines"}})
	want := "| a | b |\n|---|---|\n| x\\|y | two lines |\n"
	if got != want {
		t.Errorf("table = %q, want %q", got, want)
	}
}

func TestExeRSS(t *testing.T) {
	smaps := `00400000-00403000 r--p 00000000 fe:00 10002981                           /usr/bin/secmon daemon
Size:                 12 kB
Rss:                  12 kB
00403000-007b1000 r-xp 00003000 fe:00 10002981                           /usr/bin/secmon daemon
Rss:                3768 kB
Anonymous:             0 kB
7f9431d16000-7f9431e6c000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1064 kB
4a4a000000-4a4ac00000 rw-p 00000000 00:00 0 
Rss:                2488 kB
`
	for _, tc := range []struct {
		exe  string
		want uint64
	}{
		{"/usr/bin/secmon daemon", (12 + 3768) << 10},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", 1064 << 10},
		{"/usr/bin/secmon", 0},
	} {
		if got := exeRSS(smaps, tc.exe); got != tc.want {
			t.Errorf("exeRSS(%q) = %d, want %d", tc.exe, got, tc.want)
		}
	}
}
